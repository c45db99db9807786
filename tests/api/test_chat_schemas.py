"""The chat request and response models speak OpenAI's wire format."""

import pytest
from pydantic import ValidationError

from heho_app.api.schemas import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatRequest,
)

# What the openai SDK sends for client.chat.completions.create(..., stream=True,
# stream_options={"include_usage": True}).
SDK_REQUEST = {
    "model": "8064f0bc376c40c787529c987ac05e82",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "How many orders today?"}]},
    ],
    "stream": True,
    "stream_options": {"include_usage": True},
    "temperature": 0.2,
}


def test_an_sdk_request_validates():
    request = ChatCompletionRequest.model_validate(SDK_REQUEST)
    assert request.stream and request.stream_options.include_usage


@pytest.mark.parametrize(
    "change",
    [
        {"n": 2},
        {"tools": [{"type": "function", "function": {"name": "x"}}]},
        {"messages": []},
        {"messages": [{"role": "tool", "content": "x", "tool_call_id": "1"}]},
        {"temperature": 3},
        {"messages": [{"role": "system", "content": "Be brief."}]},
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]},
        {"messages": [{"role": "user", "content": ""}]},
    ],
)
def test_what_a_chatbot_cannot_honour_is_refused(change):
    with pytest.raises(ValidationError):
        ChatCompletionRequest.model_validate(SDK_REQUEST | change)


def test_responses_have_openais_shape():
    completion = ChatCompletion.model_validate(
        {
            "id": "chatcmpl-1",
            "created": 1,
            "model": "bot",
            "choices": [{"message": {"content": "Twelve."}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
        }
    ).model_dump()
    assert completion["object"] == "chat.completion"
    assert completion["choices"][0]["message"]["role"] == "assistant"
    chunk = ChatCompletionChunk(
        id="chatcmpl-1", created=1, model="bot", choices=[{"delta": {"content": "Tw"}}]
    )
    assert chunk.model_dump(exclude_none=True)["choices"] == [
        {"index": 0, "delta": {"content": "Tw"}}
    ]


def test_heho_chat_request():
    request = ChatRequest.model_validate(
        {"chatbot_id": "b", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    )
    assert request.history == []
    with pytest.raises(ValidationError):
        ChatRequest.model_validate({"chatbot_id": "b", "messages": []})
    with pytest.raises(ValidationError, match="must be the user's"):
        ChatRequest.model_validate(
            {"chatbot_id": "b", "messages": [{"role": "assistant", "content": "hi"}]}
        )
