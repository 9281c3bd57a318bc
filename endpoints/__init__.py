"""Where answers come from: OpenAI-compatible servers, the bundled llama.cpp server, in-process
transformers weights, the Batch API; and what asking costs (prices, budgets, token counts)."""
