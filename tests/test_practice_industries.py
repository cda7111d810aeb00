"""Drills written for one industry (insurance cold calls) are offered only where they fit.

A trainee or rep sees the drills that suit the industries of the accounts their team
works; with no industry known anywhere around them, every drill is offered.
"""

from __future__ import annotations

from sqlalchemy import Engine as Database
from sqlmodel import Session

from dialogs.core.engine import Engine
from playbooks.loader import load_playbooks
from storage.models import Account, Drill
from tests.conftest import FIXED_NOW
from tests.helpers import Chat
from tests.test_practice import join, team_id, user_of

INSURANCE_TITLES = (
    "Insurance: my employer already covers me",
    "Insurance: the last agent vanished after the sale",
    "Insurance: I'm busy, try next door",
)


def team_working_in(engine: Engine, database: Database, industry: str) -> tuple[Chat, Chat]:
    """A manager's team East: a rep whose account is in `industry`, and trainee Tina."""
    boss = Chat(engine, "5001", "Wang Fang")
    boss.onboard(role="Sales manager")
    boss.say("/newteam East")
    rep, tina = Chat(engine, "5003", "Ann"), Chat(engine, "5002", "Tina")
    rep.onboard()
    tina.onboard(role="Trainee")
    for member in (rep, tina):
        join(database, member, team_id(database, "East"))
    with Session(database) as session:
        owner = user_of(database, rep).id or 0
        session.add(Account(owner_id=owner, name="City Hospital", industry=industry))
        session.commit()
    return boss, tina


def test_a_medical_device_team_is_offered_no_insurance_drill(
    engine: Engine, database: Database
) -> None:
    boss, tina = team_working_in(engine, database, "healthcare")
    tina.say("/practice")
    assert "Objection: no need" in tina.labels()
    for title in INSURANCE_TITLES:
        assert title not in tina.labels(), title
        assert title.replace("'", "&#39;") not in tina.text, title
    boss.say("/assign")  # the manager assigns from the same list
    boss.press("Tina")
    assert "Objection: no need" in boss.labels()
    assert not any(label.startswith("Insurance") for label in boss.labels())


def test_an_insurance_team_keeps_its_drills(engine: Engine, database: Database) -> None:
    _boss, tina = team_working_in(engine, database, "insurance")
    tina.say("/practice")
    for title in INSURANCE_TITLES:
        assert title in tina.labels(), title


def test_the_next_drill_for_a_weak_criterion_fits_the_industry(
    engine: Engine, database: Database
) -> None:
    """Attitude's first drill is an insurance one; a medical-device team gets the next."""
    assert load_playbooks().rubric_criteria["attitude"].drills[0] == (
        "insurance-bad-agent-experience"
    )
    _boss, tina = team_working_in(engine, database, "healthcare")
    with Session(database) as session:
        session.add(
            Drill(
                user_id=user_of(database, tina).id or 0,
                scenario_id="phone-appointment",
                language="en",
                status="finished",
                scores={"attitude": 3, "questioning": 7, "substance": 7, "advance": 7},
                total=24,
                finished_at=FIXED_NOW,
            )
        )
        session.commit()
    tina.say("/progress")
    assert "<b>Next:</b> Objection: no need (" in tina.text
    assert "Insurance" not in tina.text


def test_the_playbook_tags_the_insurance_drills_and_scenarios() -> None:
    pb = load_playbooks()
    insurance = {key for key in pb.drills if key.startswith("insurance-")}
    assert insurance and all(pb.drills[key].industries == ["insurance"] for key in insurance)
    assert all(pb.scenarios[key].industries == ["insurance"] for key in insurance)
    assert pb.drills["needs-probing"].industries == ["any"]
    for key in pb.drills:
        assert pb.drill_suits(key, None) and pb.drill_suits(key, set())
        assert pb.drill_suits(key, {"insurance"})
        assert pb.drill_suits(key, {"healthcare"}) is (key not in insurance)
        assert pb.drill_suits(key, {"healthcare", "insurance"})
