// `codereader`: reads barcodes and 2-D codes (QR, DataMatrix, Aztec, PDF417,
// EAN/UPC, Code 128, Code 39, ITF), GS1 included, once per appearance.
#pragma once

#include "vigil/gst/analyser.hpp"

G_BEGIN_DECLS

#define VIGIL_TYPE_CODE_READER (vigil_code_reader_get_type())
G_DECLARE_FINAL_TYPE(VigilCodeReader, vigil_code_reader, VIGIL, CODE_READER, VigilAnalyser)

G_END_DECLS
