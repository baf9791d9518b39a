"""Users, API keys and per-knowledge-base access: the service behind the API's authentication.

- Users have a role, ``admin`` (everything) or ``user`` (their own KBs and the ones granted to
  them). Passwords are stored as salted scrypt hashes.
- API keys (``zk-`` + 43 random characters) are shown once, stored as the sha256 of the secret,
  carry scopes (``read``, ``write``, ``admin``) and may expire. A web login is a *session* key
  with the settings' ``auth.session_ttl_hours``; logging out revokes it.
- KB access: the KB's owner and the users granted ``write`` or ``read``; admins reach every KB.
  A KB nobody owns (made on an open server or by the CLI) is reachable by admins only.
- ``enabled()``: ``auth.enabled`` when set, else on as soon as a user exists.

Who may *manage* users and keys is decided here too (``require_*``), so that the API routes
and the CLI stay thin.
"""

from zhiku.auth.identity import (
    ACCESS_LEVELS,
    ANONYMOUS,
    DEFAULT_SCOPES,
    LOCAL_USER,
    ROLES,
    SCOPES,
    Access,
    ApiKey,
    Need,
    Principal,
    Role,
    Scope,
    User,
    hash_password,
    secret_hash,
    verify_password,
)
from zhiku.auth.service import AuthService

__all__ = ["ACCESS_LEVELS", "ANONYMOUS", "DEFAULT_SCOPES", "LOCAL_USER", "ROLES", "SCOPES", "Access", "ApiKey",
           "AuthService", "Need", "Principal", "Role", "Scope", "User", "hash_password", "secret_hash",
           "verify_password"]
