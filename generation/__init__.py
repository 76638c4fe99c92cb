"""Generation: grounded answers with verified citations.

Model-independent core:

- ``models``: requests, results, citations, verdicts and the ``Answer``;
- ``generator``: the ``Generator`` interface LLM backends implement;
- ``templates`` and ``prompts/``: versioned prompt templates (package data);
- ``prompting``: the answer prompt with fenced, numbered sources fitted to the window;
- ``condense``: multi-turn follow-ups rewritten as standalone questions;
- ``sentences``: sentence spans (NLTK Punkt, shipped offline by llama-index-core);
- ``citations``: ``[n]`` markers parsed, checked, tied to sentences and quoted;
- ``similarity``: content words, figures and cosine similarity;
- ``grounding``: the ``SupportJudge`` interface, the provisional judge, ``check_answer``;
- ``abstention``: when to answer "not found", and the standard abstaining answer;
- ``finalize``: the model's raw text to a checked ``Answer``.
"""
