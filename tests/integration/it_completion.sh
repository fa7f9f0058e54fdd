#!/usr/bin/env bash
# userca completion bash (issue 16, item 7): the script sources in bash,
# registers a completion for userca, completes commands ('li' -> list),
# each command's flags from its own help, and 'help CMD'.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mkdir bin && ln -s "$USERCA" bin/userca
export PATH=$T/bin:$PATH
comp() {	# WORDS...: what completing the last word offers
	bash -c 'source <(userca completion bash) || exit 1
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _userca; echo "${COMPREPLY[*]}"' _ "$@"
}
check "source <(userca completion bash); complete -p userca" \
    bash -c 'source <(userca completion bash); complete -p userca'
check_stdout "the completion is registered" "^complete .*-F _userca userca$"
check_eq "userca li<TAB> -> list" "$(comp userca li)" "list"
check_eq "userca rev<TAB> -> revoke" "$(comp userca rev)" "revoke"
check_eq "userca help iss<TAB>" "$(comp userca help iss)" "issue issue-server"
check_eq "userca batch --enc<TAB> -> --encoding" "$(comp userca batch --enc)" "--encoding"
check_eq "userca list --<TAB>: list's flags" "$(comp userca list --)" "--expiring --home --json --status --user --help"
check_eq "userca completion b<TAB>" "$(comp userca completion b)" "bash"
expect_rc 2 "userca completion zsh: usage error" uc completion zsh
check_stderr "names the shell" "unknown shell 'zsh': only bash"
summary
