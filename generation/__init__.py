"""Generation: grounded answers with verified citations.

The answer service (``answer``) takes a question through condensing, retrieval, the prompt
and a ``Generator`` backend (llama.cpp in-process, or any OpenAI-compatible server), then the
checks that decide what the reader is shown: citations, the grounding check and its support
judges, answer relevance, withholding and abstention (``finalize``, ``abstention``). Every
module is listed in docs/contributing.md ("generation/'s modules").
"""
