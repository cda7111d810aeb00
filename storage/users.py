"""Queries about users."""

from __future__ import annotations

from sqlmodel import Session, select

from storage.models import User


def find_user(session: Session, platform: str, platform_user_id: str) -> User | None:
    """The user known on `platform` by `platform_user_id`, if any."""
    statement = select(User).where(
        User.platform == platform, User.platform_user_id == platform_user_id
    )
    return session.exec(statement).first()


def get_or_create_user(
    session: Session,
    platform: str,
    platform_user_id: str,
    *,
    display_name: str,
    language: str,
) -> User:
    """Return the user, creating a not-yet-onboarded one on first contact."""
    user = find_user(session, platform, platform_user_id)
    if user is None:
        user = User(
            platform=platform,
            platform_user_id=platform_user_id,
            display_name=display_name[:64],
            language=language,
        )
        session.add(user)
        session.flush()
    return user


def get_user(session: Session, user_id: int) -> User | None:
    """The user with this internal id."""
    return session.get(User, user_id)
