"""`gristmill rephrase`: LLM rewrites of documents through an OpenAI-compatible server.

    gristmill rephrase IN... --out DIR --endpoint URL|local --model NAME [--style wiki|qa|distill|...]
                       [--select EXPR] [--max-docs N] [--concurrency N] [--max-new-tokens N] [--seed S]

`--endpoint local` starts the packaged SmolLM2-135M server on 127.0.0.1 for the run and stops
it; a URL (vLLM, SGLang, llama.cpp, a hosted API) takes its key from $OPENAI_API_KEY (or the
variable named by --api-key-env). DIR holds the input documents unchanged plus the accepted
synthetic rows; rejected generations are in DIR/dropped/ with their reason.
"""

from __future__ import annotations

from gristmill.pipeline.commands import Command, add_inputs_and_out, add_param_options, param_values, run_stage
from gristmill.pipeline.rephrase.stage import Rephrase

OPTIONS = ["endpoint", "model", "style", "select", "max_docs", "concurrency", "max_new_tokens", "seed", "temperature",
           "top_p", "rollouts", "max_segments", "input_tokens", "require_license", "generator_terms", "api_key_env", "similarity", "local_threads"]


def rephrase_arguments(p) -> None:
    add_inputs_and_out(p)
    add_param_options(p, Rephrase, names=OPTIONS)


def run_rephrase(args) -> int:
    return run_stage(Rephrase, param_values(args, Rephrase, names=OPTIONS), args)


COMMANDS = [
    Command("rephrase", "LLM rewrites (Nemotron-CC / WRAP styles) checked for fidelity, with lineage",
            rephrase_arguments, run_rephrase),
]
