"""Fine-tune launchers on datasets built by prefsmith: a reward model (trl RewardTrainer), a
DPO policy (trl DPOTrainer), reward-conditioned SFT (trl SFTTrainer), OpenAI fine-tuning jobs,
and the evaluation of what they produce. Heavy imports (torch, trl) happen inside functions."""
