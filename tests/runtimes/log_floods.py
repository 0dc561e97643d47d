"""Functions that flood their logs, by runtime: shared by the adapters' own log tests
(tests/runtimes/test_jvm_logs.py, test_native_logs.py) and the API's (tests/api/test_limits.py)."""
from __future__ import annotations

import textwrap

LINES = 12_500  # of 8000 characters: 100 MB

# Logs its mode (the body); "flood" then logs 100 MB through context.log, "native" prints 100 MB
# (System.out, which the adapters route into the same log file), "ok" nothing more, and any
# other mode ("warm") makes as much garbage as a flood without logging it, so that the JVM's young
# space is in use before a flood (its first use alone grows the process by up to ~100 MB).
JVM_FLOODS = {
    "java-17.0": ("src/Main.java", textwrap.dedent(f"""
        package io.openruntimes.java.src;

        import io.openruntimes.java.RuntimeContext;
        import io.openruntimes.java.RuntimeOutput;

        public class Main {{
            public RuntimeOutput main(RuntimeContext context) {{
                String mode = context.getReq().getBodyText();
                context.log(mode);
                String line = "x".repeat(8000);
                long made = 0;
                for (int i = 0; i < {LINES}; i++) {{
                    if (mode.equals("flood")) {{
                        context.log(line);
                    }} else if (mode.equals("native")) {{
                        System.out.println(line);
                    }} else if (!mode.equals("ok")) {{
                        for (int copy = 0; copy < 4; copy++) {{
                            made += (line + i).getBytes().length;
                        }}
                    }}
                }}
                return context.getRes().text("done " + (made > 0));
            }}
        }}
        """)),
    "kotlin-2.3": ("src/Main.kt", textwrap.dedent(f"""
        package io.openruntimes.kotlin.src

        import io.openruntimes.kotlin.RuntimeContext
        import io.openruntimes.kotlin.RuntimeOutput

        class Main {{
            fun main(context: RuntimeContext): RuntimeOutput {{
                val mode = context.req.bodyText
                context.log(mode)
                val line = "x".repeat(8000)
                var made = 0L
                for (i in 0 until {LINES}) {{
                    if (mode == "flood") {{
                        context.log(line)
                    }} else if (mode == "native") {{
                        println(line)
                    }} else if (mode != "ok") {{
                        repeat(4) {{ made += (line + i).toByteArray().size }}
                    }}
                }}
                return context.res.text("done " + (made > 0))
            }}
        }}
        """)),
}

# The same protocol for the native adapters (Ruby, C++, Swift); "native": the language's own
# output (puts, std::cout, print).
NATIVE_FLOODS = {
    "ruby-3.1": ("index.rb", textwrap.dedent(f"""
        def main(context)
          mode = context.req.body_text
          context.log(mode)
          line = 'x' * 8000
          made = 0
          {LINES}.times do |i|
            if mode == 'flood'
              context.log(line)
            elsif mode == 'native'
              puts line
            elsif mode != 'ok'
              made += (line + i.to_s).bytesize
            end
          end
          context.res.text("done #{{made.positive?}}")
        end
        """)),
    "cpp-17": ("src/index.cc", textwrap.dedent(f"""
        #include "../RuntimeContext.h"

        #include <iostream>
        #include <string>

        namespace runtime {{
        class Handler {{
         public:
          static RuntimeOutput main(RuntimeContext &context) {{
            std::string mode = context.req.bodyText;
            context.log(mode);
            std::string line(8000, 'x');
            long long made = 0;
            for (int i = 0; i < {LINES}; i++) {{
              if (mode == "flood") {{
                context.log(line);
              }} else if (mode == "native") {{
                std::cout << line << "\\n";
              }} else if (mode != "ok") {{
                made += static_cast<long long>((line + std::to_string(i)).size());
              }}
            }}
            return context.res.text(std::string("done ") + (made > 0 ? "true" : "false"));
          }}
        }};
        }}  // namespace runtime
        """)),
    "swift-5.10": ("Sources/index.swift", textwrap.dedent(f"""
        func main(context: RuntimeContext) async throws -> RuntimeOutput? {{
            let mode = context.req.bodyText
            context.log(mode)
            let line = String(repeating: "x", count: 8000)
            var made = 0
            for i in 0..<{LINES} {{
                if mode == "flood" {{
                    context.log(line)
                }} else if mode == "native" {{
                    print(line)
                }} else if mode != "ok" {{
                    made += (line + String(i)).utf8.count
                }}
            }}
            return context.res.text("done \\(made > 0)")
        }}
        """)),
}

# The same protocol for PHP; "native": echo, which the adapter captures with an output buffer.
PHP_FLOODS = {
    "php-8.2": ("index.php", textwrap.dedent(f"""
        <?php
        return function ($context) {{
            $mode = $context->req->bodyText;
            $context->log($mode);
            $line = str_repeat('x', 8000);
            $made = 0;
            for ($i = 0; $i < {LINES}; $i++) {{
                if ($mode === 'flood') {{
                    $context->log($line);
                }} elseif ($mode === 'native') {{
                    echo $line, "\\n";
                }} elseif ($mode !== 'ok') {{
                    $made += strlen($line . $i);
                }}
            }}
            return $context->res->text('done ' . ($made > 0 ? 'true' : 'false'));
        }};
        """).lstrip()),
}

# The same protocol for the JavaScript adapters (Node, Deno: one core, runtimes/node/core.mjs);
# "native": console.log, which the core routes into the call's logs.
_JS_FLOOD_BODY = f"""
  const mode = context.req.bodyText;
  context.log(mode);
  const line = 'x'.repeat(8000);
  let made = 0;
  for (let i = 0; i < {LINES}; i++) {{
    if (mode === 'flood') context.log(line);
    else if (mode === 'native') console.log(line);
    else if (mode !== 'ok') made += (line + i).length;
  }}
  return context.res.text('done ' + (made > 0));
"""
JS_FLOODS = {
    "node-20.0": ("index.js", "module.exports = async (context) => {" + _JS_FLOOD_BODY + "};\n"),
    "deno-2.0": ("mod.ts", "export default async (context: any) => {" + _JS_FLOOD_BODY + "};\n"),
}
