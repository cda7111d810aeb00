"""`salescoach objections …` and `salescoach intents …` run as a user runs them: a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from playbooks.loader import load_playbooks

ROOT = Path(__file__).resolve().parent.parent
TYPES = set(load_playbooks().objections)
NOT_UNDERSTOOD = "Nothing to classify"

OBJECTIONS_TSV = """\
type\ttext\tchannel
price\t太贵了，别家便宜三成\tphone
too_busy\t我现在很忙，下个月再说吧\tvisit
has_supplier\t我们跟现在的供应商合作七八年了，没必要换\tphone
too_busy\tYour price is far too high, another vendor quoted 30% less\temail
send_info\tJust email me a brochure first and I'll have a look\tvisit
"""


def salescoach(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI in `tmp_path` with its own database and model directory, no LLM."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SALESCOACH_")}
    env["SALESCOACH_DATABASE_URL"] = f"sqlite:///{tmp_path / 'db.sqlite'}"
    env["SALESCOACH_MODEL_DIR"] = str(tmp_path / "models")
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=180,
        check=False,
    )


def write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


# ----- classify -----------------------------------------------------------------------------


def test_classify_prints_a_type(tmp_path: Path) -> None:
    done = salescoach(tmp_path, "objections", "classify", "太贵了")
    assert done.returncode == 0, done.stderr
    first, *rest = done.stdout.splitlines()
    label, confidence, sure = first.split(" ")
    assert label in TYPES
    assert 0.0 <= float(confidence) <= 1.0
    assert sure in {"(confident)", "(unsure)"}
    assert "evidence: 太贵了" in rest
    assert any(line.startswith("next: ") for line in rest)


def test_classify_as_json(tmp_path: Path) -> None:
    done = salescoach(tmp_path, "objections", "classify", "太贵了", "--json")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert set(payload) == {
        "type",
        "secondary",
        "confidence",
        "confident",
        "candidates",
        "evidence",
        "backend",
    }
    assert payload["type"] in TYPES and payload["backend"] == "local"
    assert payload["evidence"] == "太贵了"
    assert {label for label, _p in payload["candidates"]} == TYPES
    assert payload["candidates"][0][0] == payload["type"]
    assert isinstance(payload["confident"], bool)


@pytest.mark.parametrize("text", ["", "hmm"])
def test_classify_refuses_text_with_nothing_to_read(tmp_path: Path, text: str) -> None:
    done = salescoach(tmp_path, "objections", "classify", text)
    assert done.returncode == 2
    assert NOT_UNDERSTOOD in done.stderr
    assert done.stdout == ""


def test_the_llm_backend_needs_an_endpoint(tmp_path: Path) -> None:
    done = salescoach(tmp_path, "objections", "classify", "太贵了", "--backend", "llm")
    assert done.returncode == 2
    assert "SALESCOACH_LLM_URL" in done.stderr
    assert done.stdout == ""


# ----- eval ---------------------------------------------------------------------------------


def test_objections_eval_prints_every_section(tmp_path: Path) -> None:
    path = write(tmp_path, "heldout.tsv", OBJECTIONS_TSV)
    done = salescoach(tmp_path, "objections", "eval", str(path))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"objections on {path} (5 lines)"
    assert lines[1].startswith("overall ") and lines[1].endswith("(n=5)")
    assert lines[2].startswith("confident ")
    sections = ["by label:", "by channel:", "by lang:"]
    assert [line for line in lines if line.startswith("by ")] == sections
    assert any(line.split()[0] == "email" for line in lines if line.startswith("  "))
    assert any(line.split()[0] == "zh" and "(n=3)" in line for line in lines)
    confusions = lines.index("most frequent confusions (truth → predicted):")
    assert any(line.startswith("  too_busy → ") for line in lines[confusions + 1 :])


def test_objections_eval_as_json(tmp_path: Path) -> None:
    path = write(tmp_path, "heldout.tsv", OBJECTIONS_TSV)
    done = salescoach(tmp_path, "objections", "eval", str(path), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert set(result) == {"n", "accuracy", "confident", "by_label", "by_column", "confusions"}
    assert result["n"] == 5 and 0.0 <= result["accuracy"] <= 0.8  # one line is mislabelled
    assert set(result["by_label"]) == {"price", "too_busy", "has_supplier", "send_info"}
    assert set(result["by_column"]) == {"channel", "lang"}
    assert result["by_column"]["channel"]["email"] == {"n": 1, "accuracy": 0.0}
    assert result["by_column"]["lang"]["en"]["n"] == 2
    assert {"truth", "predicted", "count"} == set(result["confusions"][0])
    assert any(item["truth"] == "too_busy" for item in result["confusions"])


def test_eval_of_a_file_without_a_text_column_fails(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.tsv", "type\tsentence\nprice\t太贵了\n")
    done = salescoach(tmp_path, "objections", "eval", str(path))
    assert done.returncode == 2
    assert "missing column 'text'" in done.stderr
    assert done.stdout == ""


def test_intents_eval(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "intents.tsv",
        "intent\ttext\n"
        "remind\t提醒我明天下午三点给王主任打电话\n"
        "method\t什么是SPIN提问法\n"
        "objection\t客户说我们的报价太高了，我该怎么回应？\n"
        "remind\tRemind me to call Director Li on Friday at 10\n",
    )
    done = salescoach(tmp_path, "intents", "eval", str(path), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["n"] == 4
    assert set(result["by_label"]) == {"remind", "method", "objection"}
    assert set(result["by_column"]) == {"lang"}
    assert result["accuracy"] >= 0.75


def test_intents_eval_of_the_objective_model(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "objectives.tsv",
        "label\ttext\n"
        "customer_action\t拿到设备清单\n"
        "customer_action\tDirector Li agrees to arrange a technical session next week\n"
        "no_customer_action\tprovide a quote\n"
        "no_customer_action\t建立关系\n",
    )
    done = salescoach(tmp_path, "intents", "eval", str(path), "--model", "objectives")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"objectives on {path} (4 lines)"
    assert lines[1].startswith("overall ") and lines[1].endswith("(n=4)")
    assert "by label:" in lines and "by lang:" in lines
    labels = {line.split()[0] for line in lines if line.startswith("  ")}
    assert {"customer_action", "no_customer_action", "zh", "en"} <= labels
