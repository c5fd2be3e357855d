"""Write a tiny random-weight Llama GGUF for llama.cpp: byte-level BPE tokenizer, chat template.

Runs in the llama.cpp venv (numpy, gguf, tokenizers; no torch, no downloads):
``python make_tiny_gguf.py OUT.gguf [SEED]``. The output is deterministic for a seed, and greedy
decoding gives printable text of exactly ``max_output_tokens`` tokens: EOS, special tokens, lone
UTF-8 bytes and control characters can never win (see the comment on the output weights).
Adapted from ``shared/tools/real-servers/make_tiny_gguf.py`` (see SOURCES.md).
"""

import json
import sys
import unicodedata

import gguf
import numpy as np
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

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
# 2-layer Llama, hidden 128, 2 heads (head_dim 64), weights N(0, 0.5)
HIDDEN, FFN, LAYERS, HEADS, CTX = 128, 256, 2, 2, 1024


def main() -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else "tiny-llama.gguf"
    rng = np.random.default_rng(int(sys.argv[2]) if len(sys.argv) > 2 else 0)

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(CORPUS, trainer)
    vocab = tok.get_vocab()
    n_vocab = len(vocab)
    tokens = [""] * n_vocab
    for text, index in vocab.items():
        tokens[index] = text
    merges = [
        " ".join(m) if isinstance(m, (list, tuple)) else m
        for m in json.loads(tok.to_str())["model"]["merges"]
    ]
    special_ids = [vocab[s] for s in SPECIALS]
    toktypes = [
        gguf.TokenType.CONTROL if i in special_ids else gguf.TokenType.NORMAL
        for i in range(n_vocab)
    ]

    def bad(i: int) -> bool:  # lone UTF-8 bytes (U+FFFD) and control characters but "\n"
        piece = tok.decode([i], skip_special_tokens=False)
        return any(
            ch == "\ufffd" or (unicodedata.category(ch) == "Cc" and ch != "\n") for ch in piece
        )

    bad_ids = special_ids + [i for i in range(n_vocab) if i not in special_ids and bad(i)]

    def weights(*shape: int) -> np.ndarray:  # numpy shape = (out, in), as in HF
        return rng.normal(0.0, 0.5, size=shape).astype(np.float32)

    tensors = {
        "token_embd.weight": weights(n_vocab, HIDDEN),
        "output_norm.weight": np.ones(HIDDEN, np.float32),
        "output.weight": weights(n_vocab, HIDDEN),
    }
    for block in range(LAYERS):
        p = f"blk.{block}."
        tensors.update(
            {
                p + "attn_norm.weight": np.ones(HIDDEN, np.float32),
                p + "ffn_norm.weight": np.ones(HIDDEN, np.float32),
                p + "attn_q.weight": weights(HIDDEN, HIDDEN),
                p + "attn_k.weight": weights(HIDDEN, HIDDEN),
                p + "attn_v.weight": weights(HIDDEN, HIDDEN),
                p + "attn_output.weight": weights(HIDDEN, HIDDEN) * 0.05,
                p + "ffn_gate.weight": weights(FFN, HIDDEN),
                p + "ffn_up.weight": weights(FFN, HIDDEN),
                p + "ffn_down.weight": weights(HIDDEN, FFN) * 0.05,
            }
        )
        # Nothing writes to residual dim 0 ...
        tensors[p + "attn_output.weight"][0, :] = 0.0
        tensors[p + "ffn_down.weight"][0, :] = 0.0
    # ... which is a constant 1.0 from the embedding, hence > 0 after the final RMSNorm for every
    # input, so a huge negative output weight on dim 0 keeps the unwanted tokens (EOS included)
    # out of reach.
    tensors["token_embd.weight"][:, 0] = 1.0
    tensors["output.weight"][bad_ids, 0] = -10000.0

    w = gguf.GGUFWriter(out, "llama")
    w.add_name("Tiny Random Llama")
    w.add_block_count(LAYERS)
    w.add_context_length(CTX)
    w.add_embedding_length(HIDDEN)
    w.add_feed_forward_length(FFN)
    w.add_head_count(HEADS)
    w.add_head_count_kv(HEADS)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_key_length(HIDDEN // HEADS)
    w.add_value_length(HIDDEN // HEADS)
    w.add_rope_dimension_count(HIDDEN // HEADS)
    w.add_vocab_size(n_vocab)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(tokens)
    w.add_token_types(toktypes)
    w.add_token_merges(merges)
    w.add_bos_token_id(vocab["<|bos|>"])
    w.add_eos_token_id(vocab["<|eos|>"])
    w.add_pad_token_id(vocab["<|pad|>"])
    w.add_chat_template(CHAT_TEMPLATE)
    for name, tensor in tensors.items():
        w.add_tensor(name, tensor)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    params = sum(t.size for t in tensors.values())
    print(f"wrote {out}: vocab {n_vocab}, {params} params, {len(bad_ids)} tokens suppressed")


if __name__ == "__main__":
    main()
