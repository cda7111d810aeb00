"""Building the pieces every front end shares: database, migrations, engine."""

from __future__ import annotations

import gc

from bot.settings import Settings
from dialogs.catalog import ACTIONS, COMMANDS, DIALOGS
from dialogs.core.engine import Engine
from dialogs.core.steps import Services
from dialogs.practice.roleplay_llm import ai_customer_from
from playbooks.loader import load_playbooks
from playbooks.schema import Playbooks
from storage.db import make_engine
from storage.migrate import upgrade
from understanding.llm import ChatEndpoint, LlmObjectionReader
from understanding.models import ModelStore
from understanding.readers import Understanding


def build_engine(settings: Settings, services: Services) -> Engine:
    """Open the database, bring its schema up to date, and return a dialog engine.

    A broken company playbook raises PlaybookError here, before anything runs.
    """
    services.playbooks = load_playbooks(settings.playbook_dir)
    llm = ai_customer_from(
        settings.llm_url, settings.llm_model, settings.llm_timeout, settings.llm_key()
    )
    services.extras.setdefault("llm", llm)  # None: role-plays use the scripted customer
    services.understanding = understanding_for(settings, services.playbooks)
    services.understanding.warm()
    database = make_engine(settings.database_url)
    upgrade(database)
    return Engine(database, dialogs=DIALOGS, commands=COMMANDS, actions=ACTIONS, services=services)


def understanding_for(settings: Settings, playbooks: Playbooks) -> Understanding:
    """The models of the model directory (or the defaults), and the LLM when configured."""
    llm = None
    if settings.llm_url and settings.llm_model:
        chat = ChatEndpoint(
            settings.llm_url,
            settings.llm_model,
            timeout=settings.llm_timeout,
            api_key=settings.llm_key(),
        )
        definitions = {
            type_id: f"{objection.label.en}. {objection.description.en}"
            for type_id, objection in playbooks.objections.items()
        }
        llm = LlmObjectionReader(chat, definitions)
    return Understanding(ModelStore(settings.model_dir), llm)


def freeze_startup_objects() -> None:
    """Exempt everything loaded so far from the garbage collector's full passes.

    Playbooks, templates, compiled queries and modules live as long as the
    process; rescanning them in every full collection stalled the event loop
    for ~100 ms at a time under load (bench/load_bench.py); frozen, ~10 ms.
    """
    gc.collect()
    gc.freeze()
