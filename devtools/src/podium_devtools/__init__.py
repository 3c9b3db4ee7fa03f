"""Podium's test doubles and rehearsal tools (fake Airtable, Loops, review service, base generator).

A uv workspace member of its own (`podium-devtools`), installed by the dev group: it never ships
in the `podium` wheel, and `podium` never imports it.
"""
