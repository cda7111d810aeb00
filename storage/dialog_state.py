"""Reading and writing a user's conversation state."""

from __future__ import annotations

from sqlmodel import Session

from storage.models import DialogState, utcnow


def load_state(session: Session, user_id: int, *, for_update: bool = False) -> DialogState:
    """The user's state row, created idle on first use."""
    state = session.get(DialogState, user_id, with_for_update=for_update)
    if state is None:
        state = DialogState(user_id=user_id)
        session.add(state)
        session.flush()
    return state


def save_state(session: Session, state: DialogState) -> None:
    """Stage the state row for the surrounding transaction."""
    state.updated_at = utcnow()
    session.add(state)
