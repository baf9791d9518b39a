from chatchat.server.api.api_schemas import OpenAIChatInput


class ChatCompletions(OpenAIChatInput):
    ...
