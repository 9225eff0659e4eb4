//! The page at `/`: links to every endpoint, laid out like the reference's.

use rnats_core::node::RNATS_VERSION;

const ENDPOINTS: &[(&str, &str)] = &[
    ("varz", "General"),
    ("connz", "Connections"),
    ("accountz", "Accounts"),
    ("accstatz", "Account Stats"),
    ("subsz", "Subscriptions"),
    ("routez", "Routes"),
    ("leafz", "LeafNodes"),
    ("gatewayz", "Gateways"),
    ("jsz", "JetStream"),
    ("metrics", "Prometheus Metrics"),
];

pub fn page() -> String {
    let mut links = String::new();
    for (path, label) in ENDPOINTS {
        links.push_str(&format!("\t<a href=./{path}>{label}</a>\n"));
    }
    format!(
        r#"<html lang="en">
	<head>
	<style type="text/css">
		body {{ font-family: ui-sans-serif,system-ui,-apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",sans-serif; font-size: 18; margin-left: 32px }}
		a {{ display:block; margin-left: 7px; padding-bottom: 6px; color: rgb(72 72 92); text-decoration: none }}
		a:hover {{ font-weight: 600; color: rgb(59 50 202) }}
		a.help {{ display:inline; font-weight: 600; color: rgb(59 50 202); font-size: 20}}
		a.last {{ padding-bottom: 16px }}
		a.version {{ font-size: 14; font-weight: 400; width: 312px; margin-top: 0 }}
	</style>
	</head>
	<body>
	<h1>rnats-server</h1>
	<a class='version'>v{RNATS_VERSION} (nats-server {reference} compatible)</a>
	<br/>
{links}	<a href=./healthz class=last>Health Probe</a>
    <a href=https://docs.nats.io/running-a-nats-service/nats_admin/monitoring class="help">Help</a>
  </body>
</html>
"#,
        reference = rnats_core::node::REFERENCE_VERSION,
    )
}
