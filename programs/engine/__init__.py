"""
The engine: the profile contract, the rule language, the matcher and its SQL path.

* ``text``      bilingual texts and how values are written for a reader;
* ``contract``  the profile contract: every answer field, its vocabulary,
  bounds, question and storage, the derived fields, and the one parser;
* ``rules``     the rule language: one unit per criterion operator;
* ``matching``  the engine: assess, outcome, near miss, tier, ranking;
* ``sql``       the same rules as SQL over stored profiles, and rematch.

``text``, ``contract``, ``rules`` and ``matching`` touch no database: every
rule runs in tests without one. ``sql`` is the database path; a property
test proves it agrees with ``matching``.
"""
