"""SQLAlchemy models, one module per aggregate; importing this package registers them all."""

from app.models.reference import Province
from app.models.user import Role, User

__all__ = ["Province", "Role", "User"]
