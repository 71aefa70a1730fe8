"""Parse and validate /v1/completions and /v1/chat/completions bodies.

The HTTP layer hands us the decoded JSON object; we return typed request
objects or raise RequestError, whose message is sent back to the client in
the error response.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Union

MAX_STOP_SEQUENCES = 4
MAX_STOP_LENGTH = 64
MAX_TOKENS_LIMIT = 32768
ROLES = ("system", "user", "assistant", "tool")


class RequestError(ValueError):
    """A client error; the message is returned as-is with HTTP 400."""

    def __init__(self, message: str, param: Optional[str] = None) -> None:
        super().__init__(message)
        self.param = param

    def to_json(self) -> Dict[str, Any]:
        return {
            "error": {
                "message": str(self),
                "type": "invalid_request_error",
                "param": self.param,
            }
        }


@dataclass
class SamplingParams:
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    max_tokens: int = 256
    stop: List[str] = field(default_factory=list)
    seed: Optional[int] = None
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0


@dataclass
class ChatMessage:
    role: str
    content: str
    name: Optional[str] = None


@dataclass
class CompletionRequest:
    model: str
    prompt: Union[str, List[int]]
    sampling: SamplingParams
    stream: bool = False
    echo: bool = False


@dataclass
class ChatRequest:
    model: str
    messages: List[ChatMessage]
    sampling: SamplingParams
    stream: bool = False


def _get_number(body: Dict[str, Any], key: str, default: float) -> float:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RequestError(f"{key} must be a number", key)
    return float(value)


def _get_int(body: Dict[str, Any], key: str, default: int) -> int:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(f"{key} must be an integer", key)
    return value


def _get_bool(body: Dict[str, Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise RequestError(f"{key} must be a boolean", key)
    return value


def _parse_stop(raw: Any) -> List[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
        raise RequestError("stop must be a string or a list of strings", "stop")
    if len(raw) > MAX_STOP_SEQUENCES:
        raise RequestError(
            f"at most {MAX_STOP_SEQUENCES} stop sequences are allowed", "stop")
    for s in raw:
        if not s:
            raise RequestError("stop sequences must be non-empty", "stop")
        if len(s) > MAX_STOP_LENGTH:
            raise RequestError(
                f"stop sequences are limited to {MAX_STOP_LENGTH} characters",
                "stop")
    return list(raw)


def _parse_sampling(body: Dict[str, Any]) -> SamplingParams:
    p = SamplingParams()
    p.temperature = _get_number(body, "temperature", p.temperature)
    if not 0.0 <= p.temperature <= 2.0:
        raise RequestError("temperature must be between 0 and 2", "temperature")
    p.top_p = _get_number(body, "top_p", p.top_p)
    if not 0.0 < p.top_p <= 1.0:
        raise RequestError("top_p must be greater than 0 and at most 1", "top_p")
    p.top_k = _get_int(body, "top_k", p.top_k)
    if p.top_k < 0:
        raise RequestError("top_k must be non-negative", "top_k")
    p.max_tokens = _get_int(body, "max_tokens", p.max_tokens)
    if not 1 <= p.max_tokens <= MAX_TOKENS_LIMIT:
        raise RequestError(
            f"max_tokens must be between 1 and {MAX_TOKENS_LIMIT}", "max_tokens")
    p.stop = _parse_stop(body.get("stop"))
    if "seed" in body and body["seed"] is not None:
        p.seed = _get_int(body, "seed", 0)
    for key in ("presence_penalty", "frequency_penalty"):
        value = _get_number(body, key, 0.0)
        if not -2.0 <= value <= 2.0:
            raise RequestError(f"{key} must be between -2 and 2", key)
        setattr(p, key, value)
    return p


def _parse_model(body: Dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError("model is required", "model")
    return model


def _parse_prompt(raw: Any) -> Union[str, List[int]]:
    if isinstance(raw, str):
        if not raw:
            raise RequestError("prompt must not be empty", "prompt")
        return raw
    if isinstance(raw, list) and raw:
        if all(isinstance(t, int) and not isinstance(t, bool) for t in raw):
            if any(t < 0 for t in raw):
                raise RequestError("token ids must be non-negative", "prompt")
            return list(raw)
    raise RequestError(
        "prompt must be a non-empty string or a list of token ids", "prompt")


def _parse_message(raw: Any, index: int) -> ChatMessage:
    where = f"messages[{index}]"
    if not isinstance(raw, dict):
        raise RequestError(f"{where} must be an object", "messages")
    role = raw.get("role")
    if role not in ROLES:
        raise RequestError(
            f"{where}.role must be one of {', '.join(ROLES)}", "messages")
    content = raw.get("content")
    if content is None and role == "assistant":
        content = ""
    if not isinstance(content, str):
        raise RequestError(f"{where}.content must be a string", "messages")
    name = raw.get("name")
    if name is not None and not isinstance(name, str):
        raise RequestError(f"{where}.name must be a string", "messages")
    return ChatMessage(role=role, content=content, name=name)


def _parse_messages(raw: Any) -> List[ChatMessage]:
    if not isinstance(raw, list) or not raw:
        raise RequestError("messages must be a non-empty list", "messages")
    messages = [_parse_message(m, i) for i, m in enumerate(raw)]
    if messages[-1].role == "assistant" and not messages[-1].content:
        raise RequestError(
            "the last message cannot be an empty assistant turn", "messages")
    return messages


def _reject_unknown(body: Dict[str, Any], allowed: tuple) -> None:
    unknown = sorted(k for k in body if k not in allowed)
    if unknown:
        raise RequestError(f"unrecognized fields: {', '.join(unknown)}",
                           unknown[0])


_SAMPLING_KEYS = ("temperature", "top_p", "top_k", "max_tokens", "stop",
                  "seed", "presence_penalty", "frequency_penalty")
_COMPLETION_KEYS = ("model", "prompt", "stream", "echo", "user") + _SAMPLING_KEYS
_CHAT_KEYS = ("model", "messages", "stream", "user") + _SAMPLING_KEYS


def parse_completion(body: Any) -> CompletionRequest:
    if not isinstance(body, dict):
        raise RequestError("request body must be a JSON object")
    _reject_unknown(body, _COMPLETION_KEYS)
    return CompletionRequest(
        model=_parse_model(body),
        prompt=_parse_prompt(body.get("prompt")),
        sampling=_parse_sampling(body),
        stream=_get_bool(body, "stream", False),
        echo=_get_bool(body, "echo", False),
    )


def parse_chat(body: Any) -> ChatRequest:
    if not isinstance(body, dict):
        raise RequestError("request body must be a JSON object")
    _reject_unknown(body, _CHAT_KEYS)
    return ChatRequest(
        model=_parse_model(body),
        messages=_parse_messages(body.get("messages")),
        sampling=_parse_sampling(body),
        stream=_get_bool(body, "stream", False),
    )


def render_chat_prompt(messages: List[ChatMessage]) -> str:
    """Fallback template for models without a chat template of their own."""
    lines = []
    for m in messages:
        speaker = m.name or m.role
        lines.append(f"<|{m.role}|> {speaker}: {m.content}")
    lines.append("<|assistant|>")
    return "\n".join(lines)


def estimate_prompt_tokens(req: Union[CompletionRequest, ChatRequest]) -> int:
    """Cheap pre-tokenization estimate used for rate limiting (4 chars/token)."""
    if isinstance(req, CompletionRequest):
        if isinstance(req.prompt, list):
            return len(req.prompt)
        return max(1, len(req.prompt) // 4)
    text = render_chat_prompt(req.messages)
    return max(1, len(text) // 4)


def summarize(req: Union[CompletionRequest, ChatRequest]) -> Dict[str, Any]:
    """Compact description for the access log (never includes prompt text)."""
    s = req.sampling
    out: Dict[str, Any] = {
        "model": req.model,
        "stream": req.stream,
        "max_tokens": s.max_tokens,
        "temperature": s.temperature,
        "prompt_tokens_est": estimate_prompt_tokens(req),
    }
    if isinstance(req, ChatRequest):
        out["turns"] = len(req.messages)
    if s.stop:
        out["stop_count"] = len(s.stop)
    if s.seed is not None:
        out["seed"] = s.seed
    return out
