"""Reading people's words: trained text models, their training, evaluation and LLM option.

Owns the objection, visit-objective and intent models (`readers.Understanding`),
the text features they share (`text`), training with scikit-learn
(`training`, `models`), the evaluation behind the `eval` commands
(`evaluation`) and the optional OpenAI-compatible backend (`llm`). The
labelled corpora are playbook data (`playbooks/data/corpus/`).

It imports `playbooks` only; `dialogs` and `bot` call it.
"""
