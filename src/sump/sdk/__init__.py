"""Verify Sump access tokens in your own FastAPI app.

from sump.sdk import JwksVerifier, current_user, require_permissions

app.state.sump = JwksVerifier.for_environment("https://id.example.com", environment_id)

@app.get("/projects")
async def projects(user: Principal = Depends(require_permissions("projects:read"))): ...
"""

from sump.sdk.fastapi import current_user, require_permissions
from sump.sdk.verifier import JwksVerifier, Principal, TokenError

__all__ = ["JwksVerifier", "Principal", "TokenError", "current_user", "require_permissions"]
