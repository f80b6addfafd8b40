"""The languages ``kbgen tables`` writes, apart from the writing: the command line reads them at start-up."""

# lang -> (file name in the output directory, generator module)
LANGUAGES = {
    "c": ("bpf_features.h", "kb.outputs.generators.c"),
    "python": ("bpf_features.py", "kb.outputs.generators.python"),
    "json": ("bpf_features.json", "kb.outputs.generators.json"),
    "macros": ("bpf_feature_macros.h", "kb.outputs.generators.macros"),
    "go": ("bpf_features.go", "kb.outputs.generators.golang"),
    "rust": ("bpf_features.rs", "kb.outputs.generators.rust"),
}
DEFAULT_LANGUAGES = ("c", "python")
