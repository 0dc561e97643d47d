package io.openruntimes.kotlin

import io.openruntimes.core.HttpCore
import io.openruntimes.core.Logger
import io.openruntimes.core.Output
import io.openruntimes.core.Request
import java.lang.reflect.InvocationTargetException
import java.lang.reflect.Method
import java.lang.reflect.Modifier
import java.util.concurrent.CountDownLatch
import kotlin.coroutines.Continuation
import kotlin.coroutines.EmptyCoroutineContext
import kotlin.coroutines.intrinsics.suspendCoroutineUninterceptedOrReturn
import kotlin.coroutines.startCoroutine
import io.openruntimes.core.Function as CoreFunction

/**
 * Kotlin adapter entry point: the shared JVM HTTP core (runtimes/java/core) plus the Kotlin
 * facade. The entrypoint `src/Main.kt` is class `io.openruntimes.kotlin.src.Main` (package from the
 * path, class from the file name, as in the official runtime), or the file class `MainKt` for a
 * top-level `fun main`. `main(context)` is the current API, `main(req, res)` the v2 one; either may
 * be `suspend`. A suspend main is driven by the Kotlin standard library alone; kotlinx.coroutines
 * (bundled with every function, as in the official runtime) works inside it.
 */
object Server {
    private const val PACKAGE = "io.openruntimes.kotlin"

    @JvmStatic
    fun main(args: Array<String>) {
        HttpCore.serve({ entrypoint -> load(entrypoint) }, "src/Main.kt")
    }

    // ---------------------------------------------------------------- loader

    internal fun className(entrypoint: String): String {
        var path = entrypoint.replace('\\', '/')
        while (path.startsWith("./")) path = path.substring(2)
        val slash = path.lastIndexOf('/')
        val dot = path.lastIndexOf('.')
        if (dot > slash) path = path.substring(0, dot)
        return PACKAGE + "." + path.replace('/', '.')
    }

    private class Handler(val method: Method, val legacy: Boolean, val suspending: Boolean)

    private fun handlerOf(method: Method): Handler? {
        if (method.name != "main") return null
        val params = method.parameterTypes.toMutableList()
        val suspending = params.lastOrNull() == Continuation::class.java
        if (suspending) params.removeAt(params.size - 1)
        return when (params) {
            listOf(RuntimeContext::class.java) -> Handler(method, false, suspending)
            listOf(RuntimeRequest::class.java, RuntimeResponse::class.java) -> Handler(method, true, suspending)
            else -> null
        }
    }

    internal fun load(entrypoint: String): CoreFunction {
        val className = className(entrypoint)
        val found = mutableListOf<Class<*>>()
        for (name in listOf(className, className + "Kt")) {
            try {
                found.add(Class.forName(name, true, Server::class.java.classLoader))
            } catch (e: ClassNotFoundException) {
                continue
            } catch (e: ExceptionInInitializerError) {
                throw CoreFunction.LoadError("Failed to load module: " + HttpCore.trace(e.cause ?: e))
            } catch (e: LinkageError) {
                // e.g. "Could not initialize class" after a failed static initializer, with its cause
                throw CoreFunction.LoadError("Failed to load module: " + (e.cause?.let { HttpCore.trace(it) } ?: e.toString()))
            }
        }
        if (found.isEmpty()) {
            val dot = className.lastIndexOf('.')
            throw CoreFunction.LoadError(
                "Failed to load module: class ${className} not found. $entrypoint must declare " +
                    "'package ${className.substring(0, dot)}' and 'class ${className.substring(dot + 1)}'.",
            )
        }

        val handlers = found.flatMap { type ->
            generateSequence(type) { it.superclass }.takeWhile { it != Any::class.java }
                .flatMap { it.declaredMethods.asSequence() }
                .mapNotNull { handlerOf(it) }
                .map { type to it }
                .toList()
        }
        val (type, handler) = handlers.firstOrNull { !it.second.legacy } ?: handlers.firstOrNull()
            ?: throw CoreFunction.LoadError("Function signature invalid. Did you forget to export a 'main' function?")
        handler.method.isAccessible = true
        return KotlinFunction(handler, instanceOf(type, handler.method))
    }

    private fun instanceOf(type: Class<*>, method: Method): Any? {
        if (Modifier.isStatic(method.modifiers)) return null
        // a Kotlin `object` has its single instance in INSTANCE
        type.declaredFields.firstOrNull { it.name == "INSTANCE" && Modifier.isStatic(it.modifiers) && it.type == type }
            ?.let { return it.get(null) }
        try {
            val constructor = type.getDeclaredConstructor()
            constructor.isAccessible = true
            return constructor.newInstance()
        } catch (e: InvocationTargetException) {
            throw CoreFunction.LoadError("Failed to load module: " + HttpCore.trace(e.cause ?: e))
        } catch (e: ReflectiveOperationException) {
            throw CoreFunction.LoadError("Failed to load module: ${type.name} needs a no-argument constructor ($e)")
        }
    }

    private class KotlinFunction(private val handler: Handler, private val instance: Any?) : CoreFunction {
        override fun legacy(): Boolean = handler.legacy

        override fun call(request: Request, logger: Logger): Output? {
            val req = RuntimeRequest(request)
            val res = RuntimeResponse()
            if (handler.legacy) {
                invoke(arrayOf(req, res))
                val last = res.last ?: return Output(200, HashMap(), ByteArray(0), "")
                return Output(last.statusCode, last.headers, last.body, last.value)
            }
            val output = invoke(arrayOf(RuntimeContext(req, res, logger))) as? RuntimeOutput ?: return null
            return Output(output.statusCode, output.headers, output.body, null)
        }

        private fun invoke(args: Array<Any?>): Any? {
            try {
                return if (handler.suspending) runSuspending(args) else handler.method.invoke(instance, *args)
            } catch (e: InvocationTargetException) {
                throw e.cause ?: e
            }
        }

        /** Drives a suspend main to completion on this (call) thread's behalf. */
        private fun runSuspending(args: Array<Any?>): Any? {
            val done = CountDownLatch(1)
            var outcome: Result<Any?>? = null
            val block: suspend () -> Any? = {
                suspendCoroutineUninterceptedOrReturn { continuation ->
                    handler.method.invoke(instance, *args, continuation)
                }
            }
            block.startCoroutine(
                Continuation(EmptyCoroutineContext) { result ->
                    outcome = result
                    done.countDown()
                },
            )
            done.await()
            return outcome!!.getOrThrow()
        }
    }
}
