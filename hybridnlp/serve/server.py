"""``hybridnlp serve``: an HTTP JSON API over saved models (FastAPI on uvicorn; the ``serve``
extra).

Routes (``MODEL`` is a served directory's name; with one model served it may be left out):

- ``GET /health``: ``{"status": "ok", "models": {name: kind}}``;
- ``GET /models/MODEL``: its kind, classes and model card;
- ``POST /predict`` ``{"texts": [...], "model"?: MODEL}`` (a classifier):
  ``{"labels": [...], "probabilities": [[...]], "classes": [...]}``;
- ``POST /generate`` ``{"prompt": ..., "max_new_tokens"?, "temperature"?, "top_k"?, "top_p"?,
  "seed"?, "stream"?}`` (a language model): ``{"text": ...}``, or the text as it is generated
  (``text/plain``, chunked) with ``"stream": true``;
- ``POST /translate`` ``{"texts": [...]}`` (a translator): ``{"translations": [...]}``;
- ``POST /answer`` ``{"questions": [...]}`` (a QA pipeline): ``{"answers": [...]}``.

Concurrent ``/predict`` requests to one model are batched into one forward pass
(:class:`MicroBatcher`: what queued while the previous batch ran, plus what arrives within
``max_wait_ms``, up to ``max_batch`` texts; no wait by default, since clients waiting for
their answers send nothing more while a batch waits: benchmarks/RESULTS.md "Serving"). Bad
requests get a 4xx with ``{"error": ...}`` and the server keeps serving; bodies over
``max_body_bytes`` are refused (413) before they are read whole. Ctrl-C or SIGTERM stops
taking connections and finishes the requests under way.
"""

# no `from __future__ import annotations`: FastAPI reads the routes' annotations (the
# request models are local to build_app)

import asyncio
import contextlib
import functools
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

__all__ = ["MicroBatcher", "build_app", "load_models", "model_kind", "serve"]

MAX_BODY_BYTES = 1_000_000
MAX_TEXTS = 1024


def model_kind(model) -> str:
    """What a served model answers: classifier, generator, translator or qa."""
    from hybridnlp.qa import QAPipeline
    from hybridnlp.seq2seq import Seq2SeqLM

    if isinstance(model, Seq2SeqLM):
        return "translator"
    if isinstance(model, QAPipeline):
        return "qa"
    if hasattr(model, "predict_proba") and hasattr(model, "classes_"):
        return "classifier"
    if hasattr(model, "generate"):
        return "generator"
    raise ValueError(f"a {type(model).__name__} has nothing to serve: serve a classifier, a "
                     f"language model, a translator or a QA pipeline.")


def load_models(dirs) -> dict[str, tuple]:
    """``{name: (model, class names or None, model card or None)}`` of the model directories,
    each under its folder's name and checked to be servable."""
    from hybridnlp.persistence import load, model_class_names

    models = {}
    for d in dirs:
        name = Path(d).resolve().name
        if name in models:
            raise ValueError(f"two model directories are named {name!r}; serve folders with "
                             f"different names.")
        if not Path(d).is_dir():
            raise FileNotFoundError(f"model directory {str(d)!r} does not exist.")
        model = load(d)
        try:
            model_kind(model)
        except ValueError as err:
            raise ValueError(f"{d}: {err}") from None
        card = Path(d) / "README.md"
        models[name] = (model, model_class_names(d),
                        card.read_text(encoding="utf-8") if card.is_file() else None)
    return models


class MicroBatcher:
    """Runs ``fn(texts) -> rows`` on the texts of many concurrent requests at once, in one
    worker thread: each batch takes what queued while the previous one ran, then waits up to
    ``max_wait`` seconds (default 0) for more, up to ``max_batch`` texts."""

    def __init__(self, fn, *, max_batch: int = 64, max_wait: float = 0.0):
        self.fn, self.max_batch, self.max_wait = fn, max_batch, max_wait
        self._queue: asyncio.Queue | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="hybridnlp-batch")
        self._task: asyncio.Task | None = None
        self.batch_sizes: list[int] = []  # texts per forward pass, for the benchmark

    async def __call__(self, texts: list[str]):
        if self._task is None:
            self._queue = asyncio.Queue()
            self._task = asyncio.get_running_loop().create_task(self._run())
        future = asyncio.get_running_loop().create_future()
        await self._queue.put((texts, future))
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            items = [await self._queue.get()]
            n = len(items[0][0])
            while n < self.max_batch and not self._queue.empty():
                items.append(self._queue.get_nowait())
                n += len(items[-1][0])
            deadline = loop.time() + self.max_wait
            while n < self.max_batch and (left := deadline - loop.time()) > 0:
                try:
                    items.append(await asyncio.wait_for(self._queue.get(), left))
                except TimeoutError:
                    break
                n += len(items[-1][0])
            texts = [t for request, _ in items for t in request]
            self.batch_sizes.append(len(texts))
            try:
                rows = await loop.run_in_executor(self._executor, self.fn, texts)
            except Exception as err:  # every request of the batch hears it
                for _, future in items:
                    if not future.done():
                        future.set_exception(err)
                continue
            start = 0
            for request, future in items:
                if not future.done():
                    future.set_result(rows[start:start + len(request)])
                start += len(request)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._executor.shutdown(wait=True)


def _jsonable(value):
    return value.item() if isinstance(value, np.generic) else value


class _BodyLimit:
    """ASGI middleware: a body over ``limit`` bytes is refused (413). Its bytes are read and
    dropped as they arrive, never kept, so that the client, still sending, hears the
    answer."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await self._refuse(receive, send, int(declared))
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge(seen)
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge as err:
            await self._refuse(receive, send, err.args[0])

    async def _refuse(self, receive, send, size: int):
        more = True
        while more:  # drop the rest of the body
            message = await receive()
            more = message.get("type") == "http.request" and message.get("more_body", False)
        body = json.dumps({"error": f"the request body ({size} bytes) is over the limit of "
                                    f"{self.limit} bytes; send fewer or shorter texts per "
                                    f"request"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


class _Shortcut:
    """ASGI middleware: ``POST path`` answered by ``answer(body) -> JSON bytes`` without the
    framework's routing, request objects and exception layers, a per-request cost paid
    before any batching (benchmarks/RESULTS.md "Serving"). A body ``answer`` refuses
    (``refused`` exceptions) goes on to the framework's own route, which gives its 4xx."""

    def __init__(self, app, path: str, answer, refused: tuple):
        self.app, self.path, self.answer, self.refused = app, path, answer, refused

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path:
            return await self.app(scope, receive, send)
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        try:
            payload = await self.answer(body)
        except self.refused:
            replayed = False

            async def replay():
                nonlocal replayed
                if replayed:
                    return await receive()
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}

            return await self.app(scope, replay, send)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})


def build_app(models: dict, *, max_batch: int = 64, max_wait_ms: float = 0.0,
              max_body_bytes: int = MAX_BODY_BYTES, batching: bool = True):
    """The FastAPI application serving ``models`` (``{name: model}``, or ``{name: (model,
    class names or None, model card or None)}`` as :func:`load_models` gives).
    ``batching=False`` runs each ``/predict`` request on its own (the baseline of
    benchmarks/serve.py)."""
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, Response, StreamingResponse
    from pydantic import BaseModel, ConfigDict, Field, ValidationError

    served = {name: m if isinstance(m, tuple) else (m, None, None)
              for name, m in models.items()}
    kinds = {name: model_kind(m[0]) for name, m in served.items()}
    batchers: dict[str, MicroBatcher] = {}
    single = ThreadPoolExecutor(1, thread_name_prefix="hybridnlp-serve")

    class _Error(Exception):
        def __init__(self, status: int, message: str):
            super().__init__(message)
            self.status = status

    def pick(name: str | None, kind: str):
        if name is None:
            of_kind = [n for n, k in kinds.items() if k == kind]
            if not of_kind:
                raise _Error(404, f"no {kind} is served (served: {kinds})")
            if len(of_kind) > 1:
                raise _Error(400, f"{len(of_kind)} {kind}s are served ({of_kind}); name one "
                                  f"with \"model\"")
            name = of_kind[0]
        if name not in served:
            raise _Error(404, f"no model named {name!r} is served; served: {sorted(served)}")
        if kinds[name] != kind:
            raise _Error(400, f"model {name!r} is a {kinds[name]}, not a {kind}")
        return name, served[name][0]

    @functools.cache
    def classes_of(name: str) -> list:
        """A classifier's classes, by the data set's names where it saved them."""
        model, class_names, _ = served[name]
        classes = [_jsonable(c) for c in model.classes_]
        if class_names and all(isinstance(c, int) and 0 <= c < len(class_names)
                               for c in classes):
            classes = [class_names[c] for c in classes]
        return classes

    def classify(name: str):
        model, classes = served[name][0], classes_of(name)

        def run(texts: list[str]) -> list:
            proba = np.asarray(model.predict_proba(texts))
            return [(classes[int(i)], row) for i, row in zip(proba.argmax(axis=1),
                                                              proba.tolist(), strict=True)]
        return run

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        for batcher in batchers.values():
            await batcher.close()
        single.shutdown(wait=True)

    app = FastAPI(title="hybridnlp", lifespan=lifespan)
    app.state.batchers = batchers

    class Strict(BaseModel):
        model_config = ConfigDict(extra="forbid")
        model: str | None = None

    class Texts(Strict):
        texts: list[str] = Field(min_length=1, max_length=MAX_TEXTS)

    class Questions(Strict):
        questions: list[str] = Field(min_length=1, max_length=MAX_TEXTS)

    class Prompt(Strict):
        prompt: str = ""
        max_new_tokens: int = Field(default=100, ge=0, le=4096)
        temperature: float = Field(default=1.0, ge=0)
        top_k: int | None = Field(default=None, ge=1)
        top_p: float | None = Field(default=None, gt=0, le=1)
        seed: int | None = None
        stream: bool = False

    @app.exception_handler(_Error)
    async def _error(request: Request, err: _Error):
        return JSONResponse({"error": str(err)}, status_code=err.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, err: RequestValidationError):
        problems = []
        for e in err.errors():
            if e.get("type") == "json_invalid":
                return JSONResponse({"error": f"the body is not valid JSON: {e.get('msg')}; "
                                              f"send a JSON object"}, status_code=400)
            where = ".".join(str(p) for p in e.get("loc", ())[1:]) or "body"
            problems.append(f"{where}: {e.get('msg')}")
        return JSONResponse({"error": "; ".join(problems)}, status_code=422)

    @app.get("/health")
    async def health():
        return {"status": "ok", "models": kinds}

    @app.get("/models/{name}")
    async def describe(name: str):
        if name not in served:
            raise _Error(404, f"no model named {name!r} is served; served: {sorted(served)}")
        model, _, card = served[name]
        out = {"name": name, "kind": kinds[name], "class": type(model).__name__,
               "card": card}
        if kinds[name] == "classifier":
            out["classes"] = classes_of(name)
        return out

    async def off_loop(fn, *args):
        return await asyncio.get_running_loop().run_in_executor(single, fn, *args)

    def parsed(schema, raw: bytes):
        """The body read by ``schema`` in one pass (pydantic's JSON parser), its errors as
        FastAPI's: the hot route skips FastAPI's own body handling (a third of the cost of
        a one-text request)."""
        try:
            return schema.model_validate_json(raw)
        except ValidationError as err:
            raise RequestValidationError([{**e, "loc": ("body", *e["loc"])}
                                          for e in err.errors()]) from None

    async def answer_predict(raw: bytes) -> bytes:
        """The JSON answer to a ``/predict`` body; a bad body raises the 4xx errors."""
        body = parsed(Texts, raw)
        name, _ = pick(body.model, "classifier")
        if batching:
            if name not in batchers:
                batchers[name] = MicroBatcher(classify(name), max_batch=max_batch,
                                              max_wait=max_wait_ms / 1000)
            rows = await batchers[name](body.texts)
        else:
            rows = await off_loop(classify(name), body.texts)
        return json.dumps({"labels": [r[0] for r in rows],
                           "probabilities": [r[1] for r in rows],
                           "classes": classes_of(name)}).encode()

    @app.post("/predict", openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": Texts.model_json_schema()}}}})
    async def predict(request: Request):
        # bytes as they are: FastAPI's encoder would walk every float of the rows again
        return Response(await answer_predict(await request.body()),
                        media_type="application/json")

    @app.post("/generate")
    async def generate(body: Prompt):
        _, model = pick(body.model, "generator")
        kwargs = {"temperature": body.temperature, "top_k": body.top_k, "top_p": body.top_p,
                  "seed": body.seed}
        try:
            if body.stream and _streams(model):
                pieces = model.generate(body.prompt, body.max_new_tokens, stream=True,
                                        **kwargs)
                return StreamingResponse(pieces, media_type="text/plain; charset=utf-8")
            text = await off_loop(lambda: model.generate(body.prompt, body.max_new_tokens,
                                                         **kwargs))
        except (ValueError, TypeError) as err:
            raise _Error(400, str(err)) from None
        if body.stream:
            return StreamingResponse(iter([text]), media_type="text/plain; charset=utf-8")
        return {"text": text}

    @app.post("/translate")
    async def translate(body: Texts):
        _, model = pick(body.model, "translator")
        return {"translations": await off_loop(model.predict, body.texts)}

    @app.post("/answer")
    async def answer(body: Questions):
        _, model = pick(body.model, "qa")
        answers = await off_loop(model.predict, body.questions)
        return {"answers": [{k: _jsonable(v) for k, v in a.items()} for a in answers]}

    # the hot route's good requests skip the routing (the route above answers the bad ones);
    # the body limit wraps both
    app.add_middleware(_Shortcut, path="/predict", answer=answer_predict,
                       refused=(RequestValidationError, _Error))
    app.add_middleware(_BodyLimit, limit=max_body_bytes)
    return app


def _streams(model) -> bool:
    import inspect

    return "stream" in inspect.signature(model.generate).parameters


def serve(models: dict, *, host: str = "127.0.0.1", port: int = 8000, max_batch: int = 64,
          max_wait_ms: float = 0.0, log_level: str = "info") -> None:
    """Serve ``models`` (as :func:`build_app` takes them) until Ctrl-C or SIGTERM, which
    finish the requests under way first."""
    import uvicorn

    app = build_app(models, max_batch=max_batch, max_wait_ms=max_wait_ms)
    uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=30)
