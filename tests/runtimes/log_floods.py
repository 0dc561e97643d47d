"""Functions that flood their logs, by runtime: shared by the adapters' own log tests
(tests/runtimes/test_jvm_logs.py) and the API's (tests/api/test_limits.py)."""
from __future__ import annotations

import textwrap

LINES = 12_500  # of 8000 characters: 100 MB

# Logs its mode (the body); "flood" then logs 100 MB through context.log, "ok" nothing more, and any
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
                    }} else if (mode != "ok") {{
                        repeat(4) {{ made += (line + i).toByteArray().size }}
                    }}
                }}
                return context.res.text("done " + (made > 0))
            }}
        }}
        """)),
}
