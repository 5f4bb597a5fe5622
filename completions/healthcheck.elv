
use builtin;
use str;

set edit:completion:arg-completer[healthcheck] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'healthcheck'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'healthcheck'= {
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand completions 'Print a shell completion script'
            cand man 'Print the man page, or write one page per command into a directory'
            cand run 'Run the checks and report'
            cand explain 'Explain one finding code: title, problem, solution and docs link'
            cand codes 'List every finding code'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'healthcheck;completions'= {
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'healthcheck;man'= {
            cand --dir 'Write healthcheck.1, healthcheck-run.1, ... into this directory'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'healthcheck;run'= {
            cand --access-url 'The deployment''s external URL, e.g. https://coder.example.com [env: CODER_ACCESS_URL]'
            cand --postgres-url 'PostgreSQL DSN (URI or key=value form; every libpq sslmode). Default: discovered built-in PostgreSQL of `coder server` [env: CODER_PG_CONNECTION_URL]'
            cand --token 'Session token, sent as Coder-Session-Token to endpoints that need one [env: CODER_SESSION_TOKEN]'
            cand --derp-server-enable 'Include the embedded DERP relay at the access URL [env: CODER_DERP_SERVER_ENABLE]'
            cand --derp-server-stun-addresses 'STUN servers, comma separated host:port; `disable` for none (the default is Coder''s list) [env: CODER_DERP_SERVER_STUN_ADDRESSES]'
            cand --derp-config-path 'A DERP map JSON file to merge in [env: CODER_DERP_CONFIG_PATH]'
            cand --derp-config-url 'A DERP map JSON URL to merge in [env: CODER_DERP_CONFIG_URL]'
            cand --block-direct-connections 'Direct connections are off: no STUN nodes in the DERP map [env: CODER_BLOCK_DIRECT]'
            cand --health-check-threshold-database 'Median database ping at or above this is a warning (EDB02) [env: CODER_HEALTH_CHECK_THRESHOLD_DATABASE]'
            cand --http-address 'coderd''s own HTTP listener (as in Coder''s config, e.g. 0.0.0.0:3000): the Access URL section also asks it for /healthz, to tell a down coderd from a broken path to it [env: CODER_HTTP_ADDRESS]'
            cand --tls-address 'coderd''s own TLS listener (e.g. 0.0.0.0:3443); probed instead of the HTTP listener, which only redirects once TLS is on, unless only --http-address is typed on the command line (the certificate is not verified: it is issued for the access URL''s name) [env: CODER_TLS_ADDRESS]'
            cand --cert-expiry-warning 'A TLS certificate expiring within this is a warning (ETLS01); Go durations, plus days (14d)'
            cand --db-connections-warning 'Database connections in use at this share of the slots a non-superuser may take are a warning (EPG02); 1-100, with or without %'
            cand --job-pending-warning 'Provisioner jobs not started after this long are EPQ01'
            cand --license-expiry-warning 'A Coder license expiring within this is a warning (ELIC01); Go durations, plus days (30d)'
            cand --only 'Run only these sections (comma separated)'
            cand --skip 'Skip these sections (comma separated)'
            cand --dismiss 'Sections whose findings are shown but do not fail the run (adds to the deployment''s own dismissed list)'
            cand --timeout 'Deadline for the run: every section, and all of them together [env: HEALTHCHECK_TIMEOUT]'
            cand --ca-cert 'Extra PEM trust roots for HTTPS, WSS and DERP over TLS (repeatable)'
            cand --format 'Output format: table, json, prometheus or junit [default: table]'
            cand --output 'Write the report to FILE (atomically: a temporary file in the same folder, then rename) instead of stdout'
            cand --watch 'Run again every DUR until Ctrl-C or SIGTERM; exit with the last run''s exit code'
            cand --fail-on 'The lowest severity that makes the exit code 1'
            cand --color 'When to use colour (NO_COLOR and CLICOLOR_FORCE are honoured with auto)'
            cand --docs-url 'Base URL for docs links [env: CODER_DOCS_URL]'
            cand --env-file 'Coder''s environment file (KEY=value lines); by default the one below, if readable [default: /etc/coder.d/coder.env] [env: HEALTHCHECK_ENV_FILE]'
            cand --json 'Write the JSON report to stdout, nothing else (short for --format json)'
            cand -v 'More detail per section (each ping, DERP node, proxy, daemon)'
            cand --verbose 'More detail per section (each ping, DERP node, proxy, daemon)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'healthcheck;explain'= {
            cand --docs-url 'Base URL for docs links [env: CODER_DOCS_URL]'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'healthcheck;codes'= {
            cand --docs-url 'Base URL for docs links [env: CODER_DOCS_URL]'
            cand --json 'Print the list as JSON'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'healthcheck;help'= {
            cand completions 'Print a shell completion script'
            cand man 'Print the man page, or write one page per command into a directory'
            cand run 'Run the checks and report'
            cand explain 'Explain one finding code: title, problem, solution and docs link'
            cand codes 'List every finding code'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'healthcheck;help;completions'= {
        }
        &'healthcheck;help;man'= {
        }
        &'healthcheck;help;run'= {
        }
        &'healthcheck;help;explain'= {
        }
        &'healthcheck;help;codes'= {
        }
        &'healthcheck;help;help'= {
        }
    ]
    $completions[$command]
}
