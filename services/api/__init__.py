"""The query API, its WebSocket and the live dashboard (``perpwatch run api``)."""
