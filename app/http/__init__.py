"""HTTP/WebSocket edge: CORS, body size limit, WebSocket origin check, request ids."""
