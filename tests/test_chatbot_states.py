"""The settings states' pieces that need no browser: the model picker's data."""

from heho_app.services import openrouter
from heho_app.services.openrouter import ErrorInfo, ModelInfo, OpenRouterError
from heho_app.state.chatbots import MODELS_UNAVAILABLE, fetch_model_options, model_option


def test_model_option_shows_context_price_and_tools():
    option = model_option(
        ModelInfo(
            id="x/big",
            name="Big",
            context_length=128_000,
            prompt_price=0.000001,
            completion_price=0.000002,
            supports_tools=True,
        )
    )
    assert option == {
        "id": "x/big",
        "name": "Big",
        "context": "128k context",
        "price": "$1.00 in / $2.00 out per 1M tokens",
        "tools": True,
    }
    router = model_option(ModelInfo("auto", "Auto", None, None, None, False))
    assert (router["context"], router["price"], router["tools"]) == (
        "context unknown",
        "price varies",
        False,
    )


async def test_unreachable_model_list_is_said_and_a_typed_id_is_asked_for(monkeypatch):
    async def unreachable(**_kwargs):
        raise OpenRouterError(ErrorInfo("connection_failed", "Could not reach OpenRouter."))

    monkeypatch.setattr(openrouter, "list_models", unreachable)
    models, error = await fetch_model_options()
    assert models == []
    assert "Could not reach OpenRouter." in error
    assert MODELS_UNAVAILABLE in error


async def test_model_list_from_the_local_openrouter(fake_openrouter):
    openrouter.clear_model_cache()
    models, error = await fetch_model_options()
    assert error == ""
    assert [m["id"] for m in models if m["tools"]] == ["heho/fake-tools", "openrouter/auto"]
