# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_healthcheck_global_optspecs
    string join \n h/help V/version
end

function __fish_healthcheck_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_healthcheck_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_healthcheck_using_subcommand
    set -l cmd (__fish_healthcheck_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c healthcheck -n "__fish_healthcheck_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c healthcheck -n "__fish_healthcheck_needs_command" -s V -l version -d 'Print version'
complete -c healthcheck -n "__fish_healthcheck_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c healthcheck -n "__fish_healthcheck_needs_command" -f -a "man" -d 'Print the man page, or write one page per command into a directory'
complete -c healthcheck -n "__fish_healthcheck_needs_command" -f -a "run" -d 'Run the checks and report'
complete -c healthcheck -n "__fish_healthcheck_needs_command" -f -a "explain" -d 'Explain one finding code: title, problem, solution and docs link'
complete -c healthcheck -n "__fish_healthcheck_needs_command" -f -a "codes" -d 'List every finding code'
complete -c healthcheck -n "__fish_healthcheck_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c healthcheck -n "__fish_healthcheck_using_subcommand completions" -s h -l help -d 'Print help'
complete -c healthcheck -n "__fish_healthcheck_using_subcommand man" -l dir -d 'Write healthcheck.1, healthcheck-run.1, ... into this directory' -r -F
complete -c healthcheck -n "__fish_healthcheck_using_subcommand man" -s h -l help -d 'Print help'
complete -c healthcheck -n "__fish_healthcheck_using_subcommand run" -l access-url -d 'The deployment\'s external URL, e.g. https://coder.example.com [env: CODER_ACCESS_URL]' -r
complete -c healthcheck -n "__fish_healthcheck_using_subcommand run" -l postgres-url -d 'PostgreSQL DSN (URI or key=value form; every libpq sslmode). Default: discovered built-in PostgreSQL of `coder server` [env: CODER_PG_CONNECTION_URL]' -r
complete -c healthcheck -n "__fish_healthcheck_using_subcommand run" -l token -d 'Session token, sent as Coder-Session-Token to endpoints that need one [env: CODER_SESSION_TOKEN]' -r
complete -c healthcheck -n "__fish_healthcheck_using_subcommand run" -l derp-server-enable -d 'Include the embedded DERP relay at the access URL [env: CODER_DERP_SERVER_ENABLE]' -r
complete -c healthcheck -n "__fish_healthcheck_using_subcommand run" -l derp-server-stun-addresses -d 'STUN servers, comma separated host:port; `disable` for none (the default is Coder\'s list) [env: CODER_DERP_SERVER_STUN_ADDRESSES]' -r
complete -c healthcheck -n "__fish_healthcheck_using_subcommand run" -l derp-config-path -d 'A DERP map JSON file to merge in [env: CODER_DERP_CONFIG_PATH]' -r -F
complete -c healthcheck -n "__fish_healthcheck_using_subcommand run" -l derp-config-url -d 'A DERP map JSON URL to merge in [env: CODER_DERP_CONFIG_URL]' -r
complete -c healthcheck -n "__fish_healthcheck_using_subcommand run" -l block-direct-connections -d 'Direct connections are off: no STUN nodes in the DERP map [env: CODER_BLOCK_DIRECT]' -r
complete -c healthcheck -n "__fish_healthcheck_using_subcommand run" -l health-check-threshold-database -d 'Median database ping at or above this is a warning (EDB02) [env: CODER_HEALTH_CHECK_THRESHOLD_DATABASE]' -r
complete -c healthcheck -n "__fish_healthcheck_using_subcommand run" -l http-address -d 'coderd\'s own HTTP listener (as in Coder\'s config, e.g. 0.0.0.0:3000): the Access URL section also asks it for /healthz, to tell a down coderd from a broken path to it [env: CODER_HTTP_ADDRESS]' -r
complete -c healthcheck -n "__fish_healthcheck_using_subcommand run" -l tls-address -d 'coderd\'s own TLS listener (e.g. 0.0.0.0:3443); probed instead of the HTTP listener, which only redirects once TLS is on, unless only --http-address is typed on the command line (the certificate is not verified: it is issued for the access URL\'s name) [env: CODER_TLS_ADDRESS]' -r
complete -c healthcheck -n "__fish_healthcheck_using_subcommand run" -l cert-expiry-warning -d 'A TLS certificate expiring within this is a warning (ETLS01); Go durations, plus days (14d)' -r
complete -c healthcheck -n "__fish_healthcheck_using_subcommand run" -l db-connections-warning -d 'Database connections in use at this share of the slots a non-superuser may take are a warning (EPG02); 1-100, with or without %' -r
complete -c healthcheck -n "__fish_healthcheck_using_subcommand run" -l job-pending-warning -d 'Provisioner jobs not started after this long are EPQ01' -r
complete -c healthcheck -n "__fish_healthcheck_using_subcommand run" -l license-expiry-warning -d 'A Coder license expiring within this is a warning (ELIC01); Go durations, plus days (30d)' -r
complete -c healthcheck -n "__fish_healthcheck_using_subcommand run" -l only -d 'Run only these sections (comma separated)' -r
complete -c healthcheck -n "__fish_healthcheck_using_subcommand run" -l skip -d 'Skip these sections (comma separated)' -r
complete -c healthcheck -n "__fish_healthcheck_using_subcommand run" -l dismiss -d 'Sections whose findings are shown but do not fail the run (adds to the deployment\'s own dismissed list)' -r
complete -c healthcheck -n "__fish_healthcheck_using_subcommand run" -l timeout -d 'Deadline for the run: every section, and all of them together [env: HEALTHCHECK_TIMEOUT]' -r
complete -c healthcheck -n "__fish_healthcheck_using_subcommand run" -l ca-cert -d 'Extra PEM trust roots for HTTPS, WSS and DERP over TLS (repeatable)' -r -F
complete -c healthcheck -n "__fish_healthcheck_using_subcommand run" -l format -d 'Output format: table, json, prometheus or junit [default: table]' -r -f -a "table\t'The table for people (the default)'
json\t'Coder\'s JSON report (same as --json)'
prometheus\t'Prometheus text exposition (node_exporter\'s textfile collector reads it)'
junit\t'JUnit XML, one test case per section, for CI test reports'"
complete -c healthcheck -n "__fish_healthcheck_using_subcommand run" -l output -d 'Write the report to FILE (atomically: a temporary file in the same folder, then rename) instead of stdout' -r -F
complete -c healthcheck -n "__fish_healthcheck_using_subcommand run" -l watch -d 'Run again every DUR until Ctrl-C or SIGTERM; exit with the last run\'s exit code' -r
complete -c healthcheck -n "__fish_healthcheck_using_subcommand run" -l fail-on -d 'The lowest severity that makes the exit code 1' -r -f -a "error\t''
warning\t''"
complete -c healthcheck -n "__fish_healthcheck_using_subcommand run" -l color -d 'When to use colour (NO_COLOR and CLICOLOR_FORCE are honoured with auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c healthcheck -n "__fish_healthcheck_using_subcommand run" -l docs-url -d 'Base URL for docs links [env: CODER_DOCS_URL]' -r
complete -c healthcheck -n "__fish_healthcheck_using_subcommand run" -l env-file -d 'Coder\'s environment file (KEY=value lines); by default the one below, if readable [default: /etc/coder.d/coder.env] [env: HEALTHCHECK_ENV_FILE]' -r -F
complete -c healthcheck -n "__fish_healthcheck_using_subcommand run" -l json -d 'Write the JSON report to stdout, nothing else (short for --format json)'
complete -c healthcheck -n "__fish_healthcheck_using_subcommand run" -s v -l verbose -d 'More detail per section (each ping, DERP node, proxy, daemon)'
complete -c healthcheck -n "__fish_healthcheck_using_subcommand run" -s h -l help -d 'Print help'
complete -c healthcheck -n "__fish_healthcheck_using_subcommand explain" -l docs-url -d 'Base URL for docs links [env: CODER_DOCS_URL]' -r
complete -c healthcheck -n "__fish_healthcheck_using_subcommand explain" -s h -l help -d 'Print help'
complete -c healthcheck -n "__fish_healthcheck_using_subcommand codes" -l docs-url -d 'Base URL for docs links [env: CODER_DOCS_URL]' -r
complete -c healthcheck -n "__fish_healthcheck_using_subcommand codes" -l json -d 'Print the list as JSON'
complete -c healthcheck -n "__fish_healthcheck_using_subcommand codes" -s h -l help -d 'Print help'
complete -c healthcheck -n "__fish_healthcheck_using_subcommand help; and not __fish_seen_subcommand_from completions man run explain codes help" -f -a "completions" -d 'Print a shell completion script'
complete -c healthcheck -n "__fish_healthcheck_using_subcommand help; and not __fish_seen_subcommand_from completions man run explain codes help" -f -a "man" -d 'Print the man page, or write one page per command into a directory'
complete -c healthcheck -n "__fish_healthcheck_using_subcommand help; and not __fish_seen_subcommand_from completions man run explain codes help" -f -a "run" -d 'Run the checks and report'
complete -c healthcheck -n "__fish_healthcheck_using_subcommand help; and not __fish_seen_subcommand_from completions man run explain codes help" -f -a "explain" -d 'Explain one finding code: title, problem, solution and docs link'
complete -c healthcheck -n "__fish_healthcheck_using_subcommand help; and not __fish_seen_subcommand_from completions man run explain codes help" -f -a "codes" -d 'List every finding code'
complete -c healthcheck -n "__fish_healthcheck_using_subcommand help; and not __fish_seen_subcommand_from completions man run explain codes help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
