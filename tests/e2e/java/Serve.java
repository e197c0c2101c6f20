// SPDX-License-Identifier: MIT
// An HTTPS server on 127.0.0.1 with the JDK's own com.sun.net.httpserver
// (JSSE: TLS in Java code), for tests that trace a server with nothing to
// probe. Routes: /hello ("hello\n"), /delay/MS ("delayed\n" MS ms after the
// request was read); anything else 404. Writes its port to PORTFILE once
// listening, then serves until killed.
//
//   java Serve.java KEYSTORE.p12 PASSWORD PORTFILE
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.FileInputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.KeyStore;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;

public class Serve {
	static void answer(HttpExchange ex) throws java.io.IOException {
		String path = ex.getRequestURI().getPath();
		int status = 200;
		String body = "hello\n";
		if (path.startsWith("/delay/")) {
			try {
				Thread.sleep(Long.parseLong(path.substring(7)));
			} catch (Exception e) {
				status = 400;
			}
			body = "delayed\n";
		} else if (!path.equals("/hello")) {
			status = 404;
			body = "not found\n";
		}
		byte[] b = body.getBytes(StandardCharsets.US_ASCII);
		ex.sendResponseHeaders(status, b.length);
		try (OutputStream os = ex.getResponseBody()) {
			os.write(b);
		}
	}

	public static void main(String[] args) throws Exception {
		char[] pass = args[1].toCharArray();
		KeyStore ks = KeyStore.getInstance("PKCS12");
		try (FileInputStream in = new FileInputStream(args[0])) {
			ks.load(in, pass);
		}
		KeyManagerFactory kmf = KeyManagerFactory.getInstance("SunX509");
		kmf.init(ks, pass);
		SSLContext ctx = SSLContext.getInstance("TLS");
		ctx.init(kmf.getKeyManagers(), null, null);
		HttpsServer srv = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
		srv.setHttpsConfigurator(new HttpsConfigurator(ctx));
		srv.createContext("/", Serve::answer);
		srv.start();
		Path tmp = Path.of(args[2] + ".tmp");
		Files.writeString(tmp, srv.getAddress().getPort() + "\n");
		Files.move(tmp, Path.of(args[2]), StandardCopyOption.ATOMIC_MOVE);
	}
}
