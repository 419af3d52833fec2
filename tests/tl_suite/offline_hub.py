"""An offline stand-in for the Hugging Face Hub, for running TransformerLens's own test suite.

Why this exists
---------------
The ``tl_suite`` nox session runs TransformerLens's test suite twice (once on TransformerLens itself, once
with hookpoints underneath) to check that hookpoints changes nothing TransformerLens's tests can see.  Most
of those tests start with ``HookedTransformer.from_pretrained("gpt2")`` or similar, and CI has no access to
huggingface.co, so without help they all fail at the download and say nothing about hooks, caches or shapes.

This pytest plugin (``-p offline_hub``, with ``tests/tl_suite`` on ``sys.path``) replaces *only the
download*.  For every repository in :data:`REPOS` it writes, per process and on first use, a fake local
snapshot of that repository and hands that directory to the *original* ``from_pretrained`` /
``hf_hub_download``.  A snapshot holds

* a ``config.json`` shaped like the real one: the real architecture, number of layers and heads, context
  length, positional scheme, norms and activation, but only 8 dimensions per head (tests index
  ``blocks.11`` of gpt2 or expect 8 heads in solu-2l, so depth and head count are kept; width is what costs);
* randomly initialised weights (``model.safetensors``, or ``model_final.pth`` for NeelNanda's models);
* a tokenizer of the same family (GPT-2/NeoX/OPT/BLOOM byte-level BPE, BERT WordPiece, T5 unigram) trained
  offline on :data:`CORPUS`, with the real special tokens and ``tokenizer_config.json``, loaded by the real
  tokenizer class -- so ``add_bos_token``, padding sides and the like behave as transformers makes them.

Everything after the download (TransformerLens's config and weight conversion, transformers' loading and
dtype handling ...) is the real code.  Any name (or revision) not in the table goes to the original
function, which fails offline exactly as before.

Weights are deterministic: they are drawn under a seed from :func:`stable_seed` (SHA-256 of the repo id and
revision, never Python's salted ``hash``) inside ``torch.random.fork_rng``, so every run and every process
sees the same model and the tests' own seeding is untouched.  The tokenizers are trained the same way in
every process, so the whole fake hub is reproducible.

What is patched (at ``pytest_configure``, before TransformerLens is imported; see :func:`install`):

* ``AutoConfig`` / ``PreTrainedConfig.from_pretrained``
* ``AutoTokenizer`` / ``PreTrainedTokenizerBase.from_pretrained``
* ``from_pretrained`` of every ``AutoModel*`` class and of ``PreTrainedModel`` (so ``BertForPreTraining``,
  ``GPT2LMHeadModel`` ... are covered)
* ``huggingface_hub.hf_hub_download`` and ``HfApi.list_repo_files`` (NeelNanda's models, whose
  ``config.json`` and ``model_final.pth`` TransformerLens downloads directly)

Tests that assert values only the real pretrained weights or vocabularies produce (a loss of 5.33 on gpt2,
a token id of 31847, a weight of shape (768, 3072)) still fail, and are meant to.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import json
import math
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pytest
    from tokenizers import Tokenizer

__all__ = ["CORPUS", "REPOS", "TOKENIZERS", "install", "is_offline_repo", "stable_seed", "uninstall"]

# ---------------------------------------------------------------------------------------------------------
# Training text for the offline tokenizers: plain English, fixed, so every process trains the same
# vocabulary.  The trainers run to exhaustion, so every word here becomes one token, as common words are in
# the real 50k vocabularies; the prompts TransformerLens's tests use ("When John and Mary went to the
# shops", "I went to Staten Island") are included for that reason, so that a prompt has the token count the
# tests expect of a real tokenizer.
# ---------------------------------------------------------------------------------------------------------

CORPUS = """\
Hello world! Hello, my dog is cute, and my cat is cute too. The cat sat on the mat.
The quick brown fox jumps over the lazy dog. How are you today? I am fine, thank you.
When Mary and John went to the store, John gave a drink to Mary. Then they walked home together.
The capital of France is Paris. Italy is in Europe. Germany, Spain and Portugal are in Europe as well.
Once upon a time, there was a little girl named Lily. She liked to play outside in the sun with her friends.
One day, she found a small red ball in the garden. She was very happy and showed it to her mother.
Her mother smiled and said, "That is a lovely ball. Be careful not to lose it." Lily promised she would.
The next morning the ball was gone. Lily looked under the bed, behind the door and in the kitchen.
At last she found it in the park, next to a big tree, where a friendly dog was guarding it for her.
A language model reads a sequence of tokens and predicts the next token. Each layer of the transformer
adds information to the residual stream. Attention heads move information between positions, and the
multilayer perceptron layers process the information at each position.  The embedding turns token ids
into vectors, and the unembedding turns the final vectors back into logits over the vocabulary.
Researchers use hooks to read and edit the activations of a model while it runs. A hook point is a place
in the network where an activation can be cached, patched, or ablated. By comparing a clean run with a
corrupted run, one can find which heads and neurons matter for a behaviour.
There were some biomolecules floating in the water, and a few scientists took samples every hour.
The weather was cold and the wind was strong, but the boat stayed on course through the night.
In the morning the sky was clear, the sea was calm, and the crew could finally see the island.
This is a much longer text. It has many sentences, some short and some long, so that the model sees a
wide range of lengths. Numbers such as 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 42, 100, 1024 and 2048 appear too.
The year 2023 was busy; the year 2024 was busier. She counted 12 apples, 7 pears and 3 oranges.
It's always locked, isn't it? We'll see. They're here; you're there. What's that? Who's there?
Please open the window, close the door, turn off the light, and put the book back on the shelf.
Python is a programming language. def add(a, b): return a + b. print("hello") prints a greeting.
import torch; x = torch.zeros(2, 3); y = x + 1; assert y.shape == (2, 3)
The teacher asked the students to write a short story about a dragon, a knight and a castle.
The knight rode to the castle, the dragon flew over the mountains, and the king waited in the hall.
Good morning, good afternoon, good evening and good night. See you soon, my friend. Goodbye!
The market opened early. People bought bread, milk, eggs, cheese, fruit and vegetables for the week.
A train left the station at nine o'clock and arrived in the city two hours later, exactly on time.
Science, history, music, art and mathematics are taught at the school on the hill above the river.
The river flows from the mountains to the sea, past farms, forests, villages and a large old bridge.
Some people prefer tea and others prefer coffee; my grandfather always drank hot chocolate instead.
If it rains tomorrow, we will stay inside and play games; if it is sunny, we will go to the beach.
The computer was slow, so he restarted it, cleaned the fan and installed more memory in the machine.
"Where are you going?" asked the old man. "To the city," answered the boy, "to find my brother."
The garden was full of flowers: roses, tulips, daisies and sunflowers grew along the stone wall.
After dinner the family sat by the fire, told stories and laughed until it was time to sleep.
Every word in this text is here only to teach a small tokenizer how English usually looks.
Hello World! Hi World! Hi there. Hi, how are you? Small test. A small token, a big token.
When John and Mary went to the shops, Mary gave the bag to John. When Tom and James went to the park,
James gave the ball to Tom. When Dan and Sid went to the shops, Sid gave an apple to Dan. After Martin and
Amy went to the park, Amy gave a drink to Martin. Sharon, Tom, James, Dan, Sid, Martin and Amy are friends.
I went to Staten Island to buy myself a mandolin, and then I took the ferry back to New York.
The Statue of Liberty stands in New York. Moscow is the capital of Russia. Ottawa is the capital of Canada.
The Olympics were held in South Korea, in Pyeongchang, and the church bells rang by the docks all day.
The magistrate listened to the complaint, checked the evidence and said the case was closed.
One, two, three, four, five, six, seven, eight, nine, ten. One two three, one two three, four five six.
A four token sequence, a seven token sequence, a short sequence and a long sequence of words.
The meaning of life is to shine, to learn and to be kind. We played bingo and burned the old letters.
Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore.
Should we test it again? We should, because the first result was not the same as the second result.
The input is a string, the output is a list, and the value must be a number within the expected range.
Hi! Hi, Bob. An apple a day keeps the doctor away. An orange, an egg and an idea. The dog ran home.
The cat ran after the dog, the dog ran after the ball, and the junk in the yard was taken away.
Astronomers measured the redshift of distant galaxies and found that the universe is growing.
Water is made of hydrogen and oxygen atoms; the mitochondria is the powerhouse of the cell.
The Eiffel Tower is located in Paris. Berlin is in Germany, Seoul is in Korea, and the river is wide.
John Smith and Jane Doe met Charlie and Wolfgang at the station before the train left for Berlin.
The industrial revolution of the nineteenth century changed economies: steam power, railways and
mechanized production transformed transport and the daily life of people in growing cities.
Colorless green ideas sleep furiously. The ancient planet has a perimeter and a circumference.
Natural language processing tasks include translation, summarization and question answering.
Neural networks learn by gradient descent, which minimize the loss; learning is often supervised.
Mechanistic interpretability studies the internals of a model: reading the weights, studying the
attention patterns, and finding the features that a network uses to represent the text it reads.
The first answer was different from the second one, but both were correct, and neither was lost.
Bananas, groceries, fish and bread were in the bag. My French teacher speaks German and Spanish too.
Time flies like an arrow; fruit flies like a banana. Those who live in glass houses should not throw stones.
Das Haus ist sehr alt, und der Fluss ist neben dem Turm. Heute ist ein wunderbar Abend.
"""

# ---------------------------------------------------------------------------------------------------------
# Determinism helpers
# ---------------------------------------------------------------------------------------------------------


def stable_seed(*parts: str | None) -> int:
    """A 63-bit seed derived from ``parts`` with SHA-256: identical in every process and every run."""
    text = "\x1f".join("" if part is None else part for part in parts)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") >> 1


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Run the body with the torch RNG seeded to ``seed``, restoring the callers' RNG state afterwards."""
    import torch

    # Weights are always drawn on the CPU: seed (and restore) only the CPU generator, since
    # ``torch.manual_seed`` would also re-seed -- and not restore -- every CUDA device.
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        yield


# ---------------------------------------------------------------------------------------------------------
# Tokenizers
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenizerSpec:
    """How to train one family of offline tokenizer, and the ``tokenizer_config.json`` to ship with it."""

    kind: str  # "bpe" (byte-level, GPT-2 style), "wordpiece" (BERT style) or "unigram" (T5 style)
    special_tokens: tuple[str, ...]
    config: dict[str, Any]
    specials_last: bool = False  # GPT-2 puts <|endoftext|> after the merges; NeoX, OPT, BERT first.
    split_digits: bool = False
    lowercase: bool = False
    vocab_size: int = 4096  # an upper bound: the corpus runs out of merges at roughly 1.5k-2k


_ENDOFTEXT = "<|endoftext|>"

TOKENIZERS: dict[str, TokenizerSpec] = {
    "gpt2": TokenizerSpec(
        kind="bpe",
        special_tokens=(_ENDOFTEXT,),
        specials_last=True,
        config={
            "tokenizer_class": "GPT2Tokenizer",
            "bos_token": _ENDOFTEXT,
            "eos_token": _ENDOFTEXT,
            "unk_token": _ENDOFTEXT,
            "add_prefix_space": False,
            "model_max_length": 1024,
        },
    ),
    "gpt-neo": TokenizerSpec(
        kind="bpe",
        special_tokens=(_ENDOFTEXT,),
        specials_last=True,
        config={
            "tokenizer_class": "GPT2Tokenizer",
            "bos_token": _ENDOFTEXT,
            "eos_token": _ENDOFTEXT,
            "unk_token": _ENDOFTEXT,
            "add_prefix_space": False,
            "model_max_length": 2048,
        },
    ),
    "gpt-neox": TokenizerSpec(
        kind="bpe",
        special_tokens=(_ENDOFTEXT, "<|padding|>"),
        config={
            "tokenizer_class": "GPTNeoXTokenizer",
            "bos_token": _ENDOFTEXT,
            "eos_token": _ENDOFTEXT,
            "unk_token": _ENDOFTEXT,
            "pad_token": "<|padding|>",
            "add_prefix_space": False,
            "model_max_length": 2048,
        },
    ),
    # NeelNanda/gpt-neox-tokenizer-digits: the NeoX tokenizer, but every digit is its own token.  Loaded as a
    # plain fast tokenizer so that the digit-splitting pre-tokenizer in tokenizer.json is kept.
    "gpt-neox-digits": TokenizerSpec(
        kind="bpe",
        special_tokens=(_ENDOFTEXT, "<|padding|>"),
        split_digits=True,
        config={
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": _ENDOFTEXT,
            "eos_token": _ENDOFTEXT,
            "unk_token": _ENDOFTEXT,
            "pad_token": "<|padding|>",
            "model_max_length": 1024,
        },
    ),
    "opt": TokenizerSpec(
        kind="bpe",
        special_tokens=("<s>", "<pad>", "</s>", "<unk>"),
        config={
            "tokenizer_class": "GPT2Tokenizer",
            "bos_token": "</s>",
            "eos_token": "</s>",
            "unk_token": "</s>",
            "pad_token": "<pad>",
            "add_bos_token": True,
            "add_prefix_space": False,
            "model_max_length": 2048,
        },
    ),
    # BLOOM's tokenizer ships as a plain fast tokenizer; BLOOM pads on the left.
    "bloom": TokenizerSpec(
        kind="bpe",
        special_tokens=("<unk>", "<s>", "</s>", "<pad>"),
        config={
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": "<s>",
            "eos_token": "</s>",
            "unk_token": "<unk>",
            "pad_token": "<pad>",
            "padding_side": "left",
        },
    ),
    "t5": TokenizerSpec(
        kind="unigram",
        special_tokens=("<pad>", "</s>", "<unk>"),
        config={
            "tokenizer_class": "T5Tokenizer",
            "eos_token": "</s>",
            "unk_token": "<unk>",
            "pad_token": "<pad>",
            "extra_ids": 100,
            "model_max_length": 512,
        },
    ),
    "bert-cased": TokenizerSpec(
        kind="wordpiece",
        special_tokens=("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"),
        config={"tokenizer_class": "BertTokenizer", "do_lower_case": False, "model_max_length": 512},
    ),
    "bert-uncased": TokenizerSpec(
        kind="wordpiece",
        special_tokens=("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"),
        lowercase=True,
        config={"tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": 512},
    ),
}

_tokenizer_cache: dict[str, tuple[str, int]] = {}
_lock = threading.RLock()


def _train_bpe(spec: TokenizerSpec) -> Tokenizer:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    pre_tokenizer: Any = (
        pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])
        if spec.split_digits
        else byte_level
    )
    trainer = trainers.BpeTrainer(
        vocab_size=spec.vocab_size,
        min_frequency=1,
        special_tokens=[] if spec.specials_last else list(spec.special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    trained = Tokenizer(models.BPE())
    trained.pre_tokenizer = pre_tokenizer
    trained.train_from_iterator(CORPUS.splitlines(keepends=True), trainer=trainer)
    model_json = json.loads(trained.to_str())["model"]
    vocab: dict[str, int] = model_json["vocab"]
    merges: list[tuple[str, str]] = [
        (m.split(" ")[0], m.split(" ")[1]) if isinstance(m, str) else (m[0], m[1])
        for m in model_json["merges"]
    ]
    if spec.specials_last:
        for token in spec.special_tokens:
            vocab[token] = len(vocab)
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False))
    tokenizer.pre_tokenizer = pre_tokenizer
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    tokenizer.add_special_tokens(list(spec.special_tokens))
    return tokenizer


def _train_wordpiece(spec: TokenizerSpec) -> Tokenizer:
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    normalizer = normalizers.BertNormalizer(lowercase=spec.lowercase)
    # The trainer numbers the "##x" continuation pieces in hash-map order, which changes the tie-breaking
    # between equally frequent merges from one process to the next.  Seeding the vocabulary with every piece
    # in sorted order (as "special" tokens, for this training run only) makes the result reproducible.
    alphabet = sorted({char for char in normalizer.normalize_str(CORPUS) if not char.isspace()})
    seed_vocab = [*spec.special_tokens, *alphabet, *(f"##{char}" for char in alphabet)]
    trainer = trainers.WordPieceTrainer(
        vocab_size=spec.vocab_size, min_frequency=1, special_tokens=seed_vocab, show_progress=False
    )
    trained = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    trained.normalizer = normalizer
    trained.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trained.train_from_iterator(CORPUS.splitlines(), trainer=trainer)

    tokenizer = Tokenizer(
        models.WordPiece(vocab=trained.get_vocab(with_added_tokens=True), unk_token="[UNK]")
    )
    tokenizer.normalizer = normalizer
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    tokenizer.add_special_tokens(list(spec.special_tokens))
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return tokenizer


def _train_unigram(spec: TokenizerSpec) -> Tokenizer:
    """A SentencePiece-style (Metaspace) unigram tokenizer laid out like T5's: <pad> </s> <unk>, pieces, sentinels.

    tokenizers' unigram trainer is not reproducible from one process to the next, so the pieces come from
    the (reproducible) BPE trainer instead, scored so that the fewest pieces win -- whole words when known.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    def pre_tokenizer(*, punctuation: bool = False) -> Any:
        # For training only, punctuation is split off so that "world" is learned apart from "world,".
        split = [pre_tokenizers.Punctuation()] if punctuation else []
        metaspace = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
        return pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), *split, metaspace])

    alphabet = sorted({char for char in CORPUS if not char.isspace()} | {"\u2581"})
    trainer = trainers.BpeTrainer(
        vocab_size=spec.vocab_size, min_frequency=1, initial_alphabet=alphabet, show_progress=False
    )
    trained = Tokenizer(models.BPE())
    trained.pre_tokenizer = pre_tokenizer(punctuation=True)
    trained.train_from_iterator(CORPUS.splitlines(), trainer=trainer)
    learned = trained.get_vocab()
    pieces = [
        (piece, -1.0 - rank * 1e-4) for rank, piece in enumerate(sorted(learned, key=learned.__getitem__))
    ]
    sentinels = [f"<extra_id_{i}>" for i in reversed(range(100))]
    vocab = [(token, 0.0) for token in spec.special_tokens] + pieces + [(token, 0.0) for token in sentinels]
    tokenizer = Tokenizer(
        models.Unigram(vocab, unk_id=spec.special_tokens.index("<unk>"), byte_fallback=False)
    )
    tokenizer.pre_tokenizer = pre_tokenizer()
    tokenizer.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    eos_id = spec.special_tokens.index("</s>")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", eos_id)]
    )
    tokenizer.add_special_tokens([*spec.special_tokens, *sentinels])
    return tokenizer


def _tokenizer_json(kind: str) -> tuple[str, int]:
    """The serialised ``tokenizer.json`` of tokenizer family ``kind`` and its size; trained once per process."""
    with _lock:
        if kind not in _tokenizer_cache:
            spec = TOKENIZERS[kind]
            trainer = {"bpe": _train_bpe, "wordpiece": _train_wordpiece, "unigram": _train_unigram}[spec.kind]
            tokenizer = trainer(spec)
            _tokenizer_cache[kind] = (tokenizer.to_str(), tokenizer.get_vocab_size(with_added_tokens=True))
        return _tokenizer_cache[kind]


def _vocab_size(kind: str, multiple: int = 1) -> int:
    return math.ceil(_tokenizer_json(kind)[1] / multiple) * multiple


def _special_id(kind: str, token: str) -> int:
    from tokenizers import Tokenizer

    token_id = Tokenizer.from_str(_tokenizer_json(kind)[0]).token_to_id(token)
    assert token_id is not None, (kind, token)
    return token_id


# ---------------------------------------------------------------------------------------------------------
# The repositories this fake hub serves
# ---------------------------------------------------------------------------------------------------------

# Every model keeps its real number of layers and heads (tests index "blocks.11", or expect 8 heads in
# solu-2l), its real context length, positional scheme, norms and activation; only the width shrinks, to
# _D_HEAD per head, and the vocabulary is the offline tokenizer's.
_D_HEAD = 8


@dataclass(frozen=True)
class RepoSpec:
    """One fake hub repository.

    ``fmt`` is ``"hf"`` (a transformers checkpoint: ``config.json`` + ``model.safetensors``), ``"neel"``
    (TransformerLens-format ``config.json`` + ``model_final.pth``, as NeelNanda's repos are) or
    ``"tokenizer"`` (tokenizer files only).  ``config`` builds ``config.json`` lazily, because its vocab size
    comes from the trained tokenizer.
    """

    name: str  # canonical repo id: the seed key, so aliases of one repo share weights
    tokenizer: str
    fmt: str = "hf"
    config: Callable[[], dict[str, Any]] | None = None
    # The class whose weights the checkpoint holds (default: ``architectures[0]`` of its config).
    checkpoint_class: str | None = None
    aliases: tuple[str, ...] = field(default=())
    # Branches other than "main" the real repo has (Pythia's training checkpoints are "step<N>"); any other
    # revision is left to the real hub, which fails offline like a missing branch would online.
    revisions: str | None = None


def _gpt2_config(n_layer: int, n_head: int, d_head: int = _D_HEAD) -> dict[str, Any]:
    eot = _special_id("gpt2", _ENDOFTEXT)
    return {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "activation_function": "gelu_new",
        "attn_pdrop": 0.1,
        "embd_pdrop": 0.1,
        "resid_pdrop": 0.1,
        "bos_token_id": eot,
        "eos_token_id": eot,
        "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-5,
        "n_ctx": 1024,
        "n_positions": 1024,
        "n_embd": n_head * d_head,
        "n_head": n_head,
        "n_layer": n_layer,
        "vocab_size": _vocab_size("gpt2"),
        "torch_dtype": "float32",
    }


def _neox_config(n_layers: int, n_heads: int) -> dict[str, Any]:
    return {
        "architectures": ["GPTNeoXForCausalLM"],
        "model_type": "gpt_neox",
        "bos_token_id": 0,
        "eos_token_id": 0,
        "hidden_act": "gelu",
        "hidden_size": n_heads * _D_HEAD,
        "intermediate_size": 4 * n_heads * _D_HEAD,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-5,
        "max_position_embeddings": 2048,
        "num_attention_heads": n_heads,
        "num_hidden_layers": n_layers,
        "rotary_emb_base": 10000,
        "rotary_pct": 0.25,
        "tie_word_embeddings": False,
        "use_cache": True,
        "use_parallel_residual": True,
        "vocab_size": _vocab_size("gpt-neox", multiple=128),  # Pythia pads its embedding like this
        "torch_dtype": "float16",
    }


def _opt_config(n_layers: int, n_heads: int) -> dict[str, Any]:
    return {
        "architectures": ["OPTForCausalLM"],
        "model_type": "opt",
        "activation_dropout": 0.0,
        "activation_function": "relu",
        "attention_dropout": 0.0,
        "bos_token_id": 2,
        "eos_token_id": 2,
        "pad_token_id": 1,
        "do_layer_norm_before": True,
        "dropout": 0.1,
        "ffn_dim": 4 * n_heads * _D_HEAD,
        "hidden_size": n_heads * _D_HEAD,
        "init_std": 0.02,
        "layerdrop": 0.0,
        "max_position_embeddings": 2048,
        "num_attention_heads": n_heads,
        "num_hidden_layers": n_layers,
        "prefix": "</s>",
        "vocab_size": _vocab_size("opt", multiple=8),
        "word_embed_proj_dim": n_heads * _D_HEAD,
        "torch_dtype": "float16",
    }


def _gpt_neo_config(n_layers: int, n_heads: int) -> dict[str, Any]:
    eot = _special_id("gpt-neo", _ENDOFTEXT)
    attention_types: list[Any] = (
        [[["global", "local"], n_layers // 2]] if n_layers % 2 == 0 else [[["global"], n_layers]]
    )
    layers = [kind for kinds, repeat in attention_types for _ in range(repeat) for kind in kinds]
    return {
        "architectures": ["GPTNeoForCausalLM"],
        "model_type": "gpt_neo",
        "activation_function": "gelu_new",
        "attention_dropout": 0,
        "attention_layers": layers,
        "attention_types": attention_types,
        "bos_token_id": eot,
        "eos_token_id": eot,
        "embed_dropout": 0,
        "hidden_size": n_heads * _D_HEAD,
        "initializer_range": 0.02,
        "intermediate_size": None,
        "layer_norm_epsilon": 1e-5,
        "max_position_embeddings": 2048,
        "num_heads": n_heads,
        "num_layers": n_layers,
        "resid_dropout": 0,
        "vocab_size": _vocab_size("gpt-neo"),
        "window_size": 256,
        "torch_dtype": "float32",
    }


def _gptj_config(n_layers: int, n_heads: int) -> dict[str, Any]:
    eot = _special_id("gpt2", _ENDOFTEXT)
    return {
        "architectures": ["GPTJForCausalLM"],
        "model_type": "gptj",
        "activation_function": "gelu_new",
        "attn_pdrop": 0.0,
        "embd_pdrop": 0.0,
        "resid_pdrop": 0.0,
        "bos_token_id": eot,
        "eos_token_id": eot,
        "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-5,
        "n_embd": n_heads * _D_HEAD,
        "n_head": n_heads,
        "n_layer": n_layers,
        "n_positions": 2048,
        "rotary_dim": _D_HEAD // 4,  # 64 of 256 in the real model
        "tie_word_embeddings": False,
        "vocab_size": _vocab_size("gpt2", multiple=32),
        "torch_dtype": "float32",
    }


def _bloom_config(n_layers: int, n_heads: int) -> dict[str, Any]:
    return {
        "architectures": ["BloomForCausalLM"],
        "model_type": "bloom",
        "apply_residual_connection_post_layernorm": False,
        "attention_dropout": 0.0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "pad_token_id": 3,
        "hidden_dropout": 0.0,
        "hidden_size": n_heads * _D_HEAD,
        "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-5,
        "n_head": n_heads,
        "n_layer": n_layers,
        "pretraining_tp": 1,
        "slow_but_exact": False,
        "use_cache": True,
        "vocab_size": _vocab_size("bloom", multiple=128),
        "torch_dtype": "float16",
    }


def _bert_config(kind: str, n_layers: int, n_heads: int) -> dict[str, Any]:
    return {
        "architectures": ["BertForMaskedLM"],
        "model_type": "bert",
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": n_heads * _D_HEAD,
        "initializer_range": 0.02,
        "intermediate_size": 4 * n_heads * _D_HEAD,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": 512,
        "num_attention_heads": n_heads,
        "num_hidden_layers": n_layers,
        "pad_token_id": _special_id(kind, "[PAD]"),
        "position_embedding_type": "absolute",
        "type_vocab_size": 2,
        "vocab_size": _vocab_size(kind),
        "torch_dtype": "float32",
    }


def _t5_config(n_layers: int, n_heads: int) -> dict[str, Any]:
    return {
        "architectures": ["T5ForConditionalGeneration"],
        "model_type": "t5",
        "d_ff": 4 * n_heads * _D_HEAD,
        "d_kv": _D_HEAD,
        "d_model": n_heads * _D_HEAD,
        "decoder_start_token_id": 0,
        "dropout_rate": 0.1,
        "eos_token_id": 1,
        "pad_token_id": 0,
        "feed_forward_proj": "relu",
        "initializer_factor": 1.0,
        "is_encoder_decoder": True,
        "layer_norm_epsilon": 1e-6,
        "n_positions": 512,
        "num_heads": n_heads,
        "num_layers": n_layers,
        "num_decoder_layers": n_layers,
        "relative_attention_num_buckets": 32,
        "relative_attention_max_distance": 128,
        "tie_word_embeddings": True,
        "vocab_size": _vocab_size("t5", multiple=128),
        "torch_dtype": "float32",
    }


def _neel_config(
    n_layers: int,
    n_heads: int,
    act_fn: str,
    *,
    attn_only: bool = False,
    shortformer: bool = False,
    tokenizer: str = "NeelNanda/gpt-neox-tokenizer-digits",
) -> Callable[[], dict[str, Any]]:
    kind = "gpt-neox" if tokenizer == "EleutherAI/gpt-neox-20b" else "gpt-neox-digits"

    def build() -> dict[str, Any]:
        return {
            "n_layers": n_layers,
            "d_model": n_heads * _D_HEAD,
            "d_mlp": 4 * n_heads * _D_HEAD,
            "d_head": _D_HEAD,
            "n_heads": n_heads,
            "n_ctx": 1024,
            "d_vocab": _vocab_size(kind),
            "tokenizer_name": tokenizer,
            "act_fn": act_fn,
            "normalization": "LN",
            "attn_only": attn_only,
            "shortformer_pos": shortformer,
        }

    return build


# (layers, heads) of the real checkpoints.
_GPT2 = {"gpt2": (12, 12), "gpt2-medium": (24, 16), "gpt2-large": (36, 20), "gpt2-xl": (48, 25)}
_PYTHIA = {
    "14m": (6, 4),
    "31m": (6, 8),
    "70m": (6, 8),
    "160m": (12, 12),
    "410m": (24, 16),
    "1b": (16, 8),
    "1.4b": (24, 16),
    "2.8b": (32, 32),
    "6.9b": (32, 32),
    "12b": (36, 40),
}
_OPT = {"125m": (12, 12), "1.3b": (24, 32), "2.7b": (32, 32), "6.7b": (32, 32), "13b": (40, 40)}  # not 350m
_TINY_STORIES = {
    "1M": (8, 16),
    "3M": (8, 16),
    "8M": (8, 16),
    "28M": (8, 16),
    "33M": (4, 16),
    "1Layer-21M": (1, 16),
    "2Layers-33M": (2, 16),
    "Instruct-1M": (8, 16),
    "Instruct-3M": (8, 16),
    "Instruct-8M": (8, 16),
    "Instruct-28M": (8, 16),
    "Instruct-33M": (4, 16),
    "Instuct-1Layer-21M": (1, 16),  # sic: the real repo id
    "Instruct-2Layers-33M": (2, 16),
}
_BLOOM = {"560m": (24, 16), "1b1": (24, 16), "1b7": (24, 16), "3b": (30, 32), "7b1": (30, 32)}
_BERT = {"base": (12, 12), "large": (24, 16)}
_T5 = {"small": (6, 8), "base": (12, 12), "large": (24, 16)}
_NEEL_WIDTHS = {1: 512, 2: 512, 3: 512, 4: 512, 6: 768, 8: 1024, 10: 1280, 12: 1536}


def _build_repos() -> dict[str, RepoSpec]:
    partial = functools.partial
    specs: list[RepoSpec] = []
    config: Callable[[], dict[str, Any]]
    for name, (n_layers, n_heads) in _GPT2.items():
        config = partial(_gpt2_config, n_layers, n_heads)
        specs.append(RepoSpec(f"openai-community/{name}", "gpt2", config=config, aliases=(name,)))
    distil = partial(_gpt2_config, 6, 12)
    specs.append(RepoSpec("distilbert/distilgpt2", "gpt2", config=distil, aliases=("distilgpt2",)))
    specs.append(RepoSpec("sshleifer/tiny-gpt2", "gpt2", config=partial(_gpt2_config, 2, 2, 1)))
    specs.append(RepoSpec("hf-internal-testing/tiny-random-gpt2", "gpt2", config=partial(_gpt2_config, 5, 4)))
    for size, (n_layers, n_heads) in _PYTHIA.items():
        for suffix in ("", "-deduped", "-v0", "-deduped-v0"):
            config = partial(_neox_config, n_layers, n_heads)
            name = f"EleutherAI/pythia-{size}{suffix}"
            specs.append(RepoSpec(name, "gpt-neox", config=config, revisions=r"step\d+"))
    specs.append(RepoSpec("EleutherAI/gpt-neox-20b", "gpt-neox", fmt="tokenizer"))
    for size, (n_layers, n_heads) in _OPT.items():
        specs.append(RepoSpec(f"facebook/opt-{size}", "opt", config=partial(_opt_config, n_layers, n_heads)))
    specs.append(RepoSpec("EleutherAI/gpt-neo-125M", "gpt-neo", config=partial(_gpt_neo_config, 12, 12)))
    specs.append(RepoSpec("EleutherAI/gpt-j-6b", "gpt2", config=partial(_gptj_config, 28, 16)))
    for name, (n_layers, n_heads) in _TINY_STORIES.items():
        config = partial(_gpt_neo_config, n_layers, n_heads)
        specs.append(RepoSpec(f"roneneldan/TinyStories-{name}", "gpt-neo", config=config))
    for size, (n_layers, n_heads) in _BLOOM.items():
        config = partial(_bloom_config, n_layers, n_heads)
        specs.append(RepoSpec(f"bigscience/bloom-{size}", "bloom", config=config))
    for size, (n_layers, n_heads) in _T5.items():
        config = partial(_t5_config, n_layers, n_heads)
        specs.append(RepoSpec(f"google-t5/t5-{size}", "t5", config=config, aliases=(f"t5-{size}",)))
    for size, (n_layers, n_heads) in _BERT.items():
        for case in ("cased", "uncased"):
            config = partial(_bert_config, f"bert-{case}", n_layers, n_heads)
            name = f"bert-{size}-{case}"
            # The real checkpoints hold both pre-training heads (MLM and NSP), hence BertForPreTraining.
            bert = "BertForPreTraining"
            specs.append(RepoSpec(f"google-bert/{name}", f"bert-{case}", "hf", config, bert, (name,)))
    specs.append(RepoSpec("NeelNanda/gpt-neox-tokenizer-digits", "gpt-neox-digits", fmt="tokenizer"))
    for n_layers, width in _NEEL_WIDTHS.items():
        for prefix, act_fn in (("SoLU", "solu_ln"), ("GELU", "gelu")):
            for data in ("C4_Code", "Pile"):
                config = _neel_config(n_layers, width // 64, act_fn)
                name = f"NeelNanda/{prefix}_{n_layers}L{width}W_{data}"
                specs.append(RepoSpec(name, "gpt-neox-digits", fmt="neel", config=config))
    for n_layers in (1, 2, 3, 4):
        config = _neel_config(n_layers, 8, "gelu", attn_only=True)
        specs.append(
            RepoSpec(f"NeelNanda/Attn_Only_{n_layers}L512W_C4_Code", "gpt-neox-digits", "neel", config)
        )
    demo = _neel_config(2, 8, "gelu", attn_only=True, shortformer=True, tokenizer="EleutherAI/gpt-neox-20b")
    specs.append(RepoSpec("NeelNanda/Attn-Only-2L512W-Shortformer-6B-big-lr", "gpt-neox", "neel", demo))

    table: dict[str, RepoSpec] = {}
    for spec in specs:
        for key in (spec.name, *spec.aliases):
            table[key.lower()] = spec
    return table


#: Every repository id (lower-cased, aliases included) this fake hub serves.
REPOS: dict[str, RepoSpec] = _build_repos()

_HUB_ONLY_KWARGS = (
    "token",
    "use_auth_token",
    "revision",
    "cache_dir",
    "force_download",
    "resume_download",
    "proxies",
    "local_files_only",
    "_commit_hash",
)


def _lookup(name: object, revision: object = None) -> RepoSpec | None:
    if not isinstance(name, str) or os.path.isdir(name):
        return None
    spec = REPOS.get(name.strip().lower())
    if spec is None or revision in (None, "main"):
        return spec
    if spec.revisions is not None and isinstance(revision, str) and re.fullmatch(spec.revisions, revision):
        return spec
    return None


def is_offline_repo(name: object, revision: str | None = None) -> bool:
    """Whether ``name`` (at ``revision``) is a repo id this fake hub serves."""
    return _lookup(name, revision) is not None


# ---------------------------------------------------------------------------------------------------------
# Fake snapshots on disk
# ---------------------------------------------------------------------------------------------------------

_root: Path | None = None
_snapshots: dict[tuple[str, str | None], Path] = {}


def _root_dir() -> Path:
    global _root
    if _root is None:
        _root = Path(tempfile.mkdtemp(prefix="offline_hub-"))
        atexit.register(shutil.rmtree, _root, True)
    return _root


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")


def _write_tokenizer(spec: RepoSpec, directory: Path) -> None:
    (directory / "tokenizer.json").write_text(_tokenizer_json(spec.tokenizer)[0], encoding="utf-8")
    _write_json(directory / "tokenizer_config.json", TOKENIZERS[spec.tokenizer].config)


def _write_hf_checkpoint(spec: RepoSpec, directory: Path, seed: int) -> None:
    import torch
    import transformers

    assert spec.config is not None
    config_dict = spec.config()
    _write_json(directory / "config.json", config_dict)
    config = _ORIGINALS["AutoConfig"](transformers.AutoConfig, str(directory))
    model_class = getattr(transformers, spec.checkpoint_class or config_dict["architectures"][0])
    with _seeded(seed):
        model = model_class(config)
    dtype = getattr(torch, config_dict.get("torch_dtype", "float32"))
    hf_logging: Any = (
        transformers.utils.logging
    )  # (untyped) no "Writing model shards" bar for a fake download
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        model.to(dtype).eval().save_pretrained(str(directory))
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    _write_json(directory / "config.json", config_dict)  # the real one, not transformers' re-serialisation


def _write_neel_checkpoint(spec: RepoSpec, directory: Path, seed: int) -> None:
    """A TransformerLens-format checkpoint: ``config.json`` and a randomly initialised ``model_final.pth``."""
    import torch
    from transformer_lens import HookedTransformer, HookedTransformerConfig
    from transformer_lens.loading_from_pretrained import convert_neel_model_config

    assert spec.config is not None
    _write_json(directory / "config.json", spec.config())
    cfg_dict = convert_neel_model_config(spec.name)  # reads the config.json above through the patched hub
    cfg_dict.update(tokenizer_name=None, init_weights=True, device="cpu", seed=None)
    with _seeded(seed):
        model = HookedTransformer(HookedTransformerConfig.from_dict(cfg_dict))
    torch.save(model.state_dict(), directory / "model_final.pth")


def _snapshot(spec: RepoSpec, revision: str | None = None) -> Path:
    """The local directory holding repo ``spec`` at ``revision``, written on first use in this process."""
    revision = None if revision in (None, "main") else revision
    key = (spec.name, revision)
    with _lock:
        if key in _snapshots:
            return _snapshots[key]
        directory = _root_dir() / hashlib.sha256(repr(key).encode()).hexdigest()[:16]
        directory.mkdir(parents=True, exist_ok=True)
        _snapshots[key] = directory  # before writing: the neel writer reads config.json back through the hub
        try:
            _write_tokenizer(spec, directory)
            seed = stable_seed(spec.name, revision)
            if spec.fmt == "hf":
                _write_hf_checkpoint(spec, directory, seed)
            elif spec.fmt == "neel":
                _write_neel_checkpoint(spec, directory, seed)
        except BaseException:
            del _snapshots[key]
            shutil.rmtree(directory, ignore_errors=True)
            raise
        return directory


# ---------------------------------------------------------------------------------------------------------
# Patched entry points
# ---------------------------------------------------------------------------------------------------------

_FROM_PRETRAINED = "from_pretrained"
_ORIGINALS: dict[str, Callable[..., Any]] = {}
_restore: list[Callable[[], None]] = []


def _local_kwargs(kwargs: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    revision = kwargs.get("revision")
    return {k: v for k, v in kwargs.items() if k not in _HUB_ONLY_KWARGS}, revision


def _load_config(
    original: Callable[..., Any], klass: type, spec: RepoSpec, name: str, *args: Any, **kwargs: Any
) -> Any:
    local, revision = _local_kwargs(kwargs)
    result = original(klass, str(_snapshot(spec, revision)), *args, **local)
    config = result[0] if isinstance(result, tuple) else result
    config._name_or_path = name
    return result


def _load_model(
    original: Callable[..., Any], klass: type, spec: RepoSpec, name: str, *args: Any, **kwargs: Any
) -> Any:
    if spec.fmt != "hf":
        return original(klass, name, *args, **kwargs)
    local, revision = _local_kwargs(kwargs)
    config = local.get("config")
    if config is not None and not isinstance(config, str):
        config._name_or_path = name
    # Weights absent from the checkpoint (a head the class adds) are initialised here: keep that seeded too.
    with _seeded(stable_seed(spec.name, revision, "weights missing from the checkpoint")):
        result = original(klass, str(_snapshot(spec, revision)), *args, **local)
    model = result[0] if isinstance(result, tuple) else result
    model.config._name_or_path = name
    model.name_or_path = name
    return result


def _load_tokenizer(
    original: Callable[..., Any], klass: type, spec: RepoSpec, name: str, *args: Any, **kwargs: Any
) -> Any:
    local, revision = _local_kwargs(kwargs)
    local.pop("use_fast", None)  # there is only a fast tokenizer here
    tokenizer = original(klass, str(_snapshot(spec, revision)), *args, **local)
    tokenizer.name_or_path = name
    tokenizer.init_kwargs["name_or_path"] = name
    tokenizer.init_kwargs.pop("is_local", None)
    return tokenizer


def _patch_classmethod(owner: type, key: str, loader: Callable[..., Any]) -> None:
    """Replace ``owner.from_pretrained`` by one that serves :data:`REPOS` through ``loader``."""
    original = owner.__dict__[_FROM_PRETRAINED].__func__
    _ORIGINALS[key] = original

    @functools.wraps(original)
    def from_pretrained(klass: type, pretrained_model_name_or_path: Any, *args: Any, **kwargs: Any) -> Any:
        spec = _lookup(pretrained_model_name_or_path, kwargs.get("revision"))
        if spec is None:
            return original(klass, pretrained_model_name_or_path, *args, **kwargs)
        return loader(original, klass, spec, pretrained_model_name_or_path, *args, **kwargs)

    setattr(owner, _FROM_PRETRAINED, classmethod(from_pretrained))
    _restore.append(lambda: setattr(owner, _FROM_PRETRAINED, classmethod(original)))


def _patch_attribute(owner: Any, attribute: str, replacement: Any) -> None:
    original = getattr(owner, attribute)
    setattr(owner, attribute, replacement)
    _restore.append(lambda: setattr(owner, attribute, original))


def _patch_hub() -> None:
    import sys

    import huggingface_hub
    import huggingface_hub.file_download

    original_download = huggingface_hub.file_download.hf_hub_download
    _ORIGINALS["hf_hub_download"] = original_download

    @functools.wraps(original_download)
    def hf_hub_download(repo_id: str, filename: str, **kwargs: Any) -> str:
        spec = _lookup(repo_id, kwargs.get("revision"))
        if spec is not None:
            subfolder = kwargs.get("subfolder") or ""
            path = _snapshot(spec, kwargs.get("revision")) / subfolder / filename
            if path.is_file():
                return str(path)
        return str(original_download(repo_id, filename, **kwargs))

    original_list = huggingface_hub.HfApi.list_repo_files

    @functools.wraps(original_list)
    def list_repo_files(self: Any, repo_id: str, **kwargs: Any) -> list[str]:
        spec = _lookup(repo_id, kwargs.get("revision"))
        if spec is None:
            return list(original_list(self, repo_id, **kwargs))
        directory = _snapshot(spec, kwargs.get("revision"))
        return sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file())

    _patch_attribute(huggingface_hub, "hf_hub_download", hf_hub_download)
    _patch_attribute(huggingface_hub.file_download, "hf_hub_download", hf_hub_download)
    _patch_attribute(huggingface_hub.HfApi, "list_repo_files", list_repo_files)
    # Modules that did `from huggingface_hub import hf_hub_download` before we got here.
    for module_name in ("transformer_lens.utilities.hf_utils",):
        module = sys.modules.get(module_name)
        if module is not None and getattr(module, "hf_hub_download", None) is original_download:
            _patch_attribute(module, "hf_hub_download", hf_hub_download)


def install() -> None:
    """Patch the hub entry points (idempotent).  Safe to call before or after transformer_lens is imported."""
    with _lock:
        if _restore:
            return
        import transformers
        from transformers import configuration_utils, modeling_utils, tokenization_utils_base
        from transformers.models.auto import auto_factory

        _patch_hub()
        _patch_classmethod(transformers.AutoConfig, "AutoConfig", _load_config)
        _patch_classmethod(configuration_utils.PreTrainedConfig, "PreTrainedConfig", _load_config)
        _patch_classmethod(transformers.AutoTokenizer, "AutoTokenizer", _load_tokenizer)
        _patch_classmethod(
            tokenization_utils_base.PreTrainedTokenizerBase, "PreTrainedTokenizerBase", _load_tokenizer
        )
        _patch_classmethod(auto_factory._BaseAutoModelClass, "AutoModel", _load_model)
        _patch_classmethod(modeling_utils.PreTrainedModel, "PreTrainedModel", _load_model)


def uninstall() -> None:
    """Undo :func:`install`."""
    with _lock:
        while _restore:
            _restore.pop()()
        _ORIGINALS.clear()


# ---------------------------------------------------------------------------------------------------------
# pytest hooks
# ---------------------------------------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    install()


def pytest_unconfigure(config: pytest.Config) -> None:
    uninstall()


def pytest_report_header(config: pytest.Config) -> str:
    names = {spec.name for spec in REPOS.values()}
    return f"offline_hub: serving {len(names)} Hugging Face repos with tiny random-weight models"
