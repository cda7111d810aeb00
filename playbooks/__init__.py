"""The coaching content as data: locale strings, checklists, question banks,
the objection library, frameworks and scenarios, in zh-CN and English, plus
the pydantic schema that validates them.

It imports no other package of ours.
"""
