module taskboard/bench/openloop

go 1.26
