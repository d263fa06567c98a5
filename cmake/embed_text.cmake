# SPDX-License-Identifier: Apache-2.0
# embed_text.cmake - writes a text file into a C source as one string, so that a program
# carries its default data and never depends on a runtime path.
#   cmake -DINPUT=data/numbering.tsv -DOUTPUT=numbering_data.c -DSYMBOL=vigil_numbering_builtin
#         -P embed_text.cmake
# defines `const char SYMBOL[]` holding the text of INPUT, one C string literal per line.
foreach(var INPUT OUTPUT SYMBOL)
    if(NOT DEFINED ${var})
        message(FATAL_ERROR "embed_text.cmake: -D${var}=... is required")
    endif()
endforeach()
file(READ "${INPUT}" text)
# Escapes first (backslash before the others); '?' too, since -std=c11 reads trigraphs.
string(REPLACE "\\" "\\\\" text "${text}")
string(REPLACE "\"" "\\\"" text "${text}")
string(REPLACE "?" "\\?" text "${text}")
string(REPLACE "\t" "\\t" text "${text}")
string(REPLACE "\r" "\\r" text "${text}")
string(REPLACE "\n" "\\n\"\n    \"" text "${text}")
get_filename_component(in_name "${INPUT}" NAME)
file(WRITE "${OUTPUT}"
     "/* SPDX-License-Identifier: Apache-2.0 */\n"
     "/* Generated from ${in_name} by cmake/embed_text.cmake: edit ${in_name}, not this file. */\n"
     "extern const char ${SYMBOL}[];\n"
     "const char ${SYMBOL}[] =\n"
     "    \"${text}\";\n")
