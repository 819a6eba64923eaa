"""Organizations of end users inside an environment, their memberships, and the environment's roles and
permission catalog."""
