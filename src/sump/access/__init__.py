"""Who is acting: the actor types every feature works with, the one idiom for "who may" rules, and the
route dependencies that turn a request's credential into an actor. Below every feature: it imports none."""
