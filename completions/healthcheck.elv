
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
            cand run 'Run the checks and report'
            cand explain 'Explain one finding code: title, problem, solution and docs link'
            cand codes 'List every finding code'
            cand completions 'Print a shell completion script'
            cand man 'Print the man page, or write one page per command into a directory'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'healthcheck;run'= {
            cand --access-url 'The deployment''s external URL, e.g. https://coder.example.com'
            cand --postgres-url 'PostgreSQL DSN (URI or key=value form; every libpq sslmode). Default: discovered built-in PostgreSQL of `coder server`'
            cand --token 'Session token, sent as Coder-Session-Token to endpoints that need one'
            cand --derp-server-enable 'Include the embedded DERP relay at the access URL [default: true]'
            cand --derp-server-stun-addresses 'STUN servers, comma separated host:port; `disable` for none [default: Coder''s list]'
            cand --derp-config-path 'A DERP map JSON file to merge in'
            cand --derp-config-url 'A DERP map JSON URL to merge in'
            cand --block-direct-connections 'Direct connections are off: no STUN nodes in the DERP map [default: false]'
            cand --health-check-threshold-database 'Median database ping at or above this is a warning (EDB02) [default: 15ms]'
            cand --only 'Run only these sections (comma separated)'
            cand --skip 'Skip these sections (comma separated)'
            cand --dismiss 'Sections whose findings are shown but do not fail the run (adds to the deployment''s own dismissed list)'
            cand --timeout 'Deadline for one section [default: 5s]'
            cand --ca-cert 'Extra PEM trust roots for HTTPS, WSS and DERP over TLS (repeatable)'
            cand --fail-on 'The lowest severity that makes the exit code 1'
            cand --color 'When to use colour (NO_COLOR and CLICOLOR_FORCE are honoured with auto)'
            cand --docs-url 'Base URL for docs links [default: https://coder.com/docs]'
            cand --env-file 'Coder''s environment file (KEY=value lines) [default: /etc/coder.d/coder.env if readable]'
            cand --json 'Write the JSON report to stdout, nothing else'
            cand -v 'More detail per section (each ping, DERP node, proxy, daemon)'
            cand --verbose 'More detail per section (each ping, DERP node, proxy, daemon)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'healthcheck;explain'= {
            cand --docs-url 'Base URL for docs links'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'healthcheck;codes'= {
            cand --docs-url 'Base URL for docs links'
            cand --json 'Print the list as JSON'
            cand -h 'Print help'
            cand --help 'Print help'
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
        &'healthcheck;help'= {
            cand run 'Run the checks and report'
            cand explain 'Explain one finding code: title, problem, solution and docs link'
            cand codes 'List every finding code'
            cand completions 'Print a shell completion script'
            cand man 'Print the man page, or write one page per command into a directory'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'healthcheck;help;run'= {
        }
        &'healthcheck;help;explain'= {
        }
        &'healthcheck;help;codes'= {
        }
        &'healthcheck;help;completions'= {
        }
        &'healthcheck;help;man'= {
        }
        &'healthcheck;help;help'= {
        }
    ]
    $completions[$command]
}
