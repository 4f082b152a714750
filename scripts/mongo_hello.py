"""Exit 0 when the MongoDB-wire server at argv[1] answers `hello`; used by scripts/services."""

import sys

from pymongo import MongoClient

client = MongoClient(sys.argv[1], serverSelectionTimeoutMS=500, connectTimeoutMS=500)
try:
    reply = client.admin.command("hello")
    sys.exit(0 if reply.get("ok") == 1 else 1)
except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
    print(exc, file=sys.stderr)
    sys.exit(1)
finally:
    client.close()
