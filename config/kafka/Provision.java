// Makes a Kafka cluster's SCRAM users and ACLs equal to a plan read from stdin, with the
// official Admin client (the Python clients cannot alter SCRAM credentials).
//
// Run by `tradelane services up` and `tradelane kafka provision`, compiled once into the cache:
//   java -cp "<kafka libs>/*:<classes>" Provision <bootstrap> <admin user>
// with the admin's password in the environment (TRADELANE_PROVISION_PASSWORD, never in argv)
// and on stdin, one tab-separated line each:
//   scram  <user> <password>                                     upsert a SCRAM-SHA-512 user
//   acl    <principal> <TOPIC|GROUP|TRANSACTIONAL_ID|CLUSTER> <LITERAL|PREFIXED> <name> <OP>
//   managed <principal>           ACLs of this principal that the plan lacks are deleted
// Prints one summary line: users upserted, ACLs created, ACLs deleted.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialAlteration;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

public class Provision {
    private static final int ITERATIONS = 8192;

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: Provision <bootstrap> <admin user>  (plan on stdin)");
            System.exit(2);
        }
        String password = System.getenv("TRADELANE_PROVISION_PASSWORD");
        if (password == null) {
            System.err.println("TRADELANE_PROVISION_PASSWORD is not set");
            System.exit(2);
        }
        List<UserScramCredentialAlteration> users = new ArrayList<>();
        Set<AclBinding> wanted = new HashSet<>();
        Set<String> managed = new HashSet<>();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line = in.readLine(); line != null; line = in.readLine()) {
            if (line.isBlank()) {
                continue;
            }
            String[] f = line.split("\t");
            switch (f[0]) {
                case "scram" -> users.add(new UserScramCredentialUpsertion(
                        f[1], new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, ITERATIONS), f[2]));
                case "acl" -> wanted.add(new AclBinding(
                        new ResourcePattern(ResourceType.fromString(f[2]), f[4], PatternType.fromString(f[3])),
                        new AccessControlEntry(f[1], "*", AclOperation.fromString(f[5]), AclPermissionType.ALLOW)));
                case "managed" -> managed.add(f[1]);
                default -> throw new IllegalArgumentException("unknown plan line: " + f[0]);
            }
        }
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(AdminClientConfig.SECURITY_PROTOCOL_CONFIG, "SASL_PLAINTEXT");
        props.put("sasl.mechanism", "SCRAM-SHA-512");
        props.put("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username=\""
                + args[1] + "\" password=\"" + password + "\";");
        props.put(AdminClientConfig.CLIENT_ID_CONFIG, "tradelane-provision");
        try (Admin admin = Admin.create(props)) {
            if (!users.isEmpty()) {
                admin.alterUserScramCredentials(users).all().get();
            }
            Set<AclBinding> existing = new HashSet<>(admin.describeAcls(AclBindingFilter.ANY).values().get());
            List<AclBinding> create = new ArrayList<>();
            for (AclBinding b : wanted) {
                if (!existing.contains(b)) {
                    create.add(b);
                }
            }
            List<AclBindingFilter> delete = new ArrayList<>();
            for (AclBinding b : existing) {
                if (managed.contains(b.entry().principal()) && !wanted.contains(b)) {
                    delete.add(b.toFilter());
                }
            }
            if (!create.isEmpty()) {
                admin.createAcls(create).all().get();
            }
            if (!delete.isEmpty()) {
                admin.deleteAcls(delete).all().get();
            }
            System.out.printf("users %d, acls created %d, acls deleted %d, acls kept %d%n",
                    users.size(), create.size(), delete.size(), wanted.size() - create.size());
        }
    }
}
