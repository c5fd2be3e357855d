"""Build a tiny random-initialised Llama model and byte-level BPE tokenizer locally (no hub).

Runs in the transformers venv (torch, transformers, tokenizers): ``python make_tiny_model.py
OUT_DIR``. Greedy decoding never stops early and never emits special tokens, lone UTF-8 bytes
or control characters (see the comment on the lm_head weights). Adapted from
``shared/tools/real-servers/make_tiny_model.py`` (see SOURCES.md).
"""

import sys
import unicodedata

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

SPECIALS = ["<|bos|>", "<|eos|>", "<|pad|>", "<|im_start|>", "<|im_end|>"]
CORPUS = [
    "Hello world! This is a tiny tokenizer for testing the OpenAI Responses API.",
    "The quick brown fox jumps over the lazy dog.",
    "user assistant system: say hi, tell me a joke, count to ten.",
    "0 1 2 3 4 5 6 7 8 9 10 one two three four five",
    "caf\u00e9 na\u00efve \u65e5\u672c\u8a9e \U0001f642 \u00fcber \u00bfqu\u00e9?",
] * 20
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{% if m['content'] is string %}{{ m['content'] }}{% else %}"
    "{% for c in m['content'] %}{{ c.get('text', '') }}{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _bad(piece: str) -> bool:  # lone UTF-8 bytes (U+FFFD) and control characters but newline
    return any(ch == "\ufffd" or (unicodedata.category(ch) == "Cc" and ch != "\n") for ch in piece)


def main() -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else "tiny-llama"
    torch.manual_seed(0)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(CORPUS, trainer)
    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|bos|>",
        eos_token="<|eos|>",
        pad_token="<|pad|>",
        additional_special_tokens=["<|im_start|>", "<|im_end|>"],
    )
    hf_tok.chat_template = CHAT_TEMPLATE
    hf_tok.save_pretrained(out)

    # head_dim 64: vLLM's CPU backend needs a standard head size
    cfg = LlamaConfig(
        vocab_size=len(hf_tok),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=hf_tok.bos_token_id,
        eos_token_id=hf_tok.eos_token_id,
        pad_token_id=hf_tok.pad_token_id,
        tie_word_embeddings=False,
        initializer_range=0.5,
    )
    model = LlamaForCausalLM(cfg)
    bad_ids = [hf_tok.convert_tokens_to_ids(t) for t in SPECIALS] + [
        i for i in range(len(hf_tok)) if _bad(hf_tok.decode([i]))
    ]
    # The ban is baked into the weights so it also holds where generation_config.json is
    # ignored: residual dim 0 is a constant 1.0 (every embedding has it, no attention/MLP output
    # writes to it), so after the final RMSNorm it is always > 0, and a large negative lm_head
    # weight on that dim pushes the unwanted tokens' logits far down whatever the input.
    # Attention/MLP outputs are scaled down so the residual stream stays O(1).
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.mul_(0.05)
            layer.mlp.down_proj.weight.mul_(0.05)
            layer.self_attn.o_proj.weight[0, :] = 0.0
            layer.mlp.down_proj.weight[0, :] = 0.0
        model.model.embed_tokens.weight[:, 0] = 1.0
        model.lm_head.weight[bad_ids, 0] = -10000.0

    model.generation_config = GenerationConfig(
        bos_token_id=cfg.bos_token_id,
        eos_token_id=cfg.eos_token_id,
        pad_token_id=cfg.pad_token_id,
        max_new_tokens=16,
        do_sample=False,
        suppress_tokens=bad_ids,
    )
    model.save_pretrained(out)
    params = sum(p.numel() for p in model.parameters())
    print("saved", out, "vocab", len(hf_tok), "params", params)


if __name__ == "__main__":
    main()
