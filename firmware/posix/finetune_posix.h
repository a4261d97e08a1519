// edgellm-fw finetune (finetune_posix.c): MeZO on an f32 adapter under wasm3.
#ifndef EDGELLM_FINETUNE_POSIX_H
#define EDGELLM_FINETUNE_POSIX_H
// argv[1] is "finetune"; module_path / default_model: this checkout's build and default model.
int finetune_main(int argc, char **argv, const char *module_path, const char *default_model);
#endif
