// Entry point glue between SwiftPM and libFuzzer.
//
// SwiftPM (tools-version >= 5.5) links every executable target with
// `--defsym main=<Module>_main` so executables can be tested; with `-parse-as-library` (needed
// because libFuzzer, not Swift, owns `main`) there is no `LoaderFuzzer_main`, and the link fails
// with "undefined symbol 'LoaderFuzzer_main'". This defines it and hands control to libFuzzer's
// driver, exactly as libFuzzer's own main() (FuzzerMain.cpp) does. Because `main` is already
// defined by the --defsym, libFuzzer's archive member with main() is never pulled in.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*user_callback)(const uint8_t *data, size_t size));
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);  // LoaderFuzzer.swift (@_cdecl)

int LoaderFuzzer_main(int argc, char **argv) {
    return LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput);
}
