"""The bundled models' Hub ids name their offline copies where a tokenizer is asked for."""

from transformers import AutoTokenizer

from prefsmith.bundled import MINILM_HUB_ID, SMOLLM2_HUB_ID, tokenizer_source


def test_a_bundled_models_hub_id_loads_its_tokenizer_without_the_hub() -> None:
    smollm2 = AutoTokenizer.from_pretrained(tokenizer_source(SMOLLM2_HUB_ID))
    assert smollm2.is_fast and smollm2.chat_template  # token-rewards needs character offsets
    minilm = AutoTokenizer.from_pretrained(tokenizer_source(MINILM_HUB_ID))
    assert minilm("a bundled tokenizer")["input_ids"][0] == minilm.cls_token_id
    assert tokenizer_source("my-org/my-tokenizer") == "my-org/my-tokenizer"  # others: the Hub
