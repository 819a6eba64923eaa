"""Sign-in routes and the dependencies that turn a session into an actor."""
