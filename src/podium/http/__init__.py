"""HTTP around the routes: the ASGI middlewares, the spec's path table they match against, and
conditional GET."""
