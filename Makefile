# The two commands of the README are `make run` and `make test`; the rest are conveniences.
.PHONY: run test services-up services-down services-status schema migration bench

run:            ## install, start services, migrate, seed when empty, serve on 127.0.0.1:8000
	scripts/dev

test:           ## install, start services, run the whole test suite
	scripts/test

services-up:
	scripts/services up

services-down:
	scripts/services down

services-status:
	scripts/services status

schema:         ## re-export schema.graphql from the code
	.venv/bin/taskboard export-schema --output schema.graphql

migration:      ## generate an aerich migration for model changes: make migration NAME=add_x
	AERICH_NO_TORTOISE_V1_WARNING=1 .venv/bin/aerich migrate --name $(NAME)

bench:
	bench/run
