package io.openruntimes.java;

import io.openruntimes.core.Function;
import io.openruntimes.core.HttpCore;
import io.openruntimes.core.Logger;
import io.openruntimes.core.Output;
import io.openruntimes.core.Request;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.HashMap;

/**
 * Java adapter entry point: the shared HTTP core plus the Java facade. The user's entrypoint
 * {@code src/Main.java} is class {@code io.openruntimes.java.src.Main} (package from the path,
 * class from the file name, as in the official runtime). Its {@code main} picks the API:
 * {@code main(RuntimeContext)} is current, {@code main(RuntimeRequest, RuntimeResponse)} is v2.
 */
public final class Server {
  static final String PACKAGE = "io.openruntimes.java";

  private Server() {}

  public static void main(String[] args) throws Exception {
    HttpCore.serve(Server::load, "src/Main.java");
  }

  // ---------------------------------------------------------------- loader

  static String className(String entrypoint) {
    String path = entrypoint.replace('\\', '/');
    while (path.startsWith("./")) {
      path = path.substring(2);
    }
    int slash = path.lastIndexOf('/');
    int dot = path.lastIndexOf('.');
    if (dot > slash) {
      path = path.substring(0, dot);
    }
    return PACKAGE + "." + path.replace('/', '.');
  }

  static Function load(String entrypoint) throws Function.LoadError {
    String className = className(entrypoint);
    Class<?> type;
    try {
      type = Class.forName(className, true, Server.class.getClassLoader());
    } catch (ClassNotFoundException e) {
      int dot = className.lastIndexOf('.');
      throw new Function.LoadError("Failed to load module: class " + className + " not found. " + entrypoint
          + " must declare 'package " + className.substring(0, dot) + ";' and 'public class "
          + className.substring(dot + 1) + "'.");
    } catch (ExceptionInInitializerError e) {
      throw new Function.LoadError("Failed to load module: " + HttpCore.trace(e.getCause()));
    } catch (LinkageError e) {
      // e.g. "Could not initialize class" after a failed static initializer, with its cause
      throw new Function.LoadError("Failed to load module: "
          + (e.getCause() != null ? HttpCore.trace(e.getCause()) : e.toString()));
    }

    Method context = null;
    Method legacy = null;
    for (Class<?> c = type; c != null && c != Object.class; c = c.getSuperclass()) {
      for (Method method : c.getDeclaredMethods()) {
        if (!method.getName().equals("main")) {
          continue;
        }
        Class<?>[] params = method.getParameterTypes();
        if (context == null && params.length == 1 && params[0] == RuntimeContext.class) {
          context = method;
        } else if (legacy == null && params.length == 2 && params[0] == RuntimeRequest.class
            && params[1] == RuntimeResponse.class) {
          legacy = method;
        }
      }
    }
    Method method = context != null ? context : legacy;
    if (method == null) {
      throw new Function.LoadError("Function signature invalid. Did you forget to export a 'main' function?");
    }
    method.setAccessible(true);

    Object instance = null;
    if (!Modifier.isStatic(method.getModifiers())) {
      try {
        Constructor<?> constructor = type.getDeclaredConstructor();
        constructor.setAccessible(true);
        instance = constructor.newInstance();
      } catch (InvocationTargetException e) {
        throw new Function.LoadError("Failed to load module: " + HttpCore.trace(e.getCause()));
      } catch (ReflectiveOperationException | RuntimeException e) {
        throw new Function.LoadError("Failed to load module: " + className
            + " needs a no-argument constructor (" + e + ")");
      }
    }
    return new JavaFunction(method, instance, method == legacy);
  }

  private static final class JavaFunction implements Function {
    private final Method method;
    private final Object instance;
    private final boolean legacy;

    JavaFunction(Method method, Object instance, boolean legacy) {
      this.method = method;
      this.instance = instance;
      this.legacy = legacy;
    }

    @Override
    public boolean legacy() {
      return legacy;
    }

    @Override
    public Output call(Request request, Logger logger) throws Throwable {
      RuntimeRequest req = new RuntimeRequest(request);
      RuntimeResponse res = new RuntimeResponse();
      try {
        if (legacy) {
          method.invoke(instance, req, res);
          RuntimeResponse last = res.last;
          return last == null
              ? new Output(200, new HashMap<>(), new byte[0], "")
              : new Output(last.getStatusCode(), last.getHeaders(), last.getBody(), last.value);
        }
        Object result = method.invoke(instance, new RuntimeContext(req, res, logger));
        if (!(result instanceof RuntimeOutput)) {
          return null;
        }
        RuntimeOutput output = (RuntimeOutput) result;
        return new Output(output.getStatusCode(), output.getHeaders(), output.getBody(), null);
      } catch (InvocationTargetException e) {
        throw e.getCause();
      }
    }
  }
}
