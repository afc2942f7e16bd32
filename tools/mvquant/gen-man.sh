#!/bin/sh
# Writes the manual page mvquant.1 from the program's own --help texts, so
# that the two never disagree: the main help, then each command of its
# "Commands:" list with that command's --help, as preformatted text.
# Usage: gen-man.sh 'RUNNER MVQUANT' VERSION > mvquant.1
#   (RUNNER: an emulator for cross builds, or nothing)
set -eu
mvq=$1
version=$2

# roff: backslashes escaped, lines that begin with . or ' kept as text
roff_text() {
    sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"
}

main_help=$($mvq --help)
commands=$(printf '%s\n' "$main_help" |
    awk '/^Commands:/ { on = 1; next } on && /^$/ { exit } on && /^  [a-z]/ { print $1 }')
[ -n "$commands" ] || { echo "gen-man: no command list in '$mvq --help'" >&2; exit 1; }
summary=$(printf '%s\n' "$main_help" | awk 'on && /^$/ { exit } /^$/ { on = 1; next } on')

cat <<EOF
.TH MVQUANT 1 "" "mvquant $version" "User Commands"
.SH NAME
mvquant \\- quantize GGUF language models, protecting massive Q/K values
.SH DESCRIPTION
$(printf '%s\n' "$summary" | roff_text)
.PP
The sections below are the program's own help texts
.RB ( "mvquant \-\-help" ,
.BR "mvquant COMMAND \-\-help" ).
.SH USAGE
.nf
$(printf '%s\n' "$main_help" | roff_text)
.fi
.SH COMMANDS
EOF
for c in $commands; do
    [ "$c" = help ] && continue
    printf '.SS %s\n.nf\n' "$c"
    $mvq "$c" --help | roff_text
    printf '.fi\n'
done
cat <<EOF
.SH SEE ALSO
The README of the source distribution; llama.cpp's llama-quantize(1), whose
presets and positional forms mvquant follows.
EOF
