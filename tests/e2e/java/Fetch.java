// SPDX-License-Identifier: MIT
// Fetches each URL in turn with java.net.http.HttpClient (one client: its
// connections are reused), over HTTP/1.1 or HTTP/2 as asked, trusting any
// certificate (a test's own), and prints one JSON line per fetch with its
// own clock (System.nanoTime: CLOCK_MONOTONIC on Linux) around send().
//
//   java Fetch.java 1.1|2 URL...
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

public class Fetch {
	public static void main(String[] args) throws Exception {
		TrustManager[] any = { new X509TrustManager() {
			public void checkClientTrusted(X509Certificate[] c, String a) {}
			public void checkServerTrusted(X509Certificate[] c, String a) {}
			public X509Certificate[] getAcceptedIssuers() { return new X509Certificate[0]; }
		} };
		SSLContext ctx = SSLContext.getInstance("TLS");
		ctx.init(null, any, null);
		HttpClient client = HttpClient.newBuilder()
			.version(args[0].equals("2") ? HttpClient.Version.HTTP_2 : HttpClient.Version.HTTP_1_1)
			.sslContext(ctx)
			.build();
		for (int i = 1; i < args.length; i++) {
			HttpRequest req = HttpRequest.newBuilder(URI.create(args[i])).build();
			long start = System.nanoTime();
			HttpResponse<byte[]> resp = client.send(req, HttpResponse.BodyHandlers.ofByteArray());
			long end = System.nanoTime();
			System.out.println("{\"url\": \"" + args[i] + "\", \"status\": " + resp.statusCode()
				+ ", \"bytes\": " + resp.body().length + ", \"version\": \"" + resp.version()
				+ "\", \"start_ns\": " + start + ", \"end_ns\": " + end + "}");
		}
	}
}
